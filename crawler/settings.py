"""Scrapy settings for qsnews: a polite, honest, incremental crawler.

Government sites are small and often fragile: one request at a time per
domain, AutoThrottle on top, robots.txt obeyed, and a User-Agent that says who
we are and how to reach us.  The demo and the tests set DOWNLOAD_DELAY to 0
because they only talk to the loopback sample sites.
"""
import os

BOT_NAME = "qsnews"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Who to contact about this crawler; set QSNEWS_CONTACT (env or -s) to a mailbox or web page.
QSNEWS_CONTACT = os.environ.get("QSNEWS_CONTACT", "https://github.com/qsnews/qsnews")
USER_AGENT = f"qsnews/0.1 (+{QSNEWS_CONTACT})"
ROBOTSTXT_OBEY = True

CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = float(os.environ.get("QSNEWS_DOWNLOAD_DELAY", "2"))
DOWNLOAD_TIMEOUT = 30
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Retry only what the server says is transient (5xx, 429), waiting longer each time.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 429]
QSNEWS_RETRY_BACKOFF_BASE = 5.0  # seconds; doubled per retry, Retry-After wins when longer
QSNEWS_RETRY_BACKOFF_MAX = 120.0

# A source found blocked (anti-bot challenge) is left alone this long; `qsnews crawl --force` overrides.
QSNEWS_BLOCKED_COOLDOWN_HOURS = 24.0

# No article page is this big: a larger response is a dump or a trap, and cleaning it would hold the crawl
# for minutes (the chain runs at roughly 3 s per MB of text).  Refused downloads are recorded as errors.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

# A list page chain deeper than this is a trap, not an archive (each source also has a page budget).
DEPTH_LIMIT = 30

DOWNLOADER_MIDDLEWARES = {
    "crawler.safety.SafetyMiddleware": 60,  # after OffsiteMiddleware (50): no file:, loopback or private targets
    "crawler.safety.ResolvedAddressGuard": 61,  # nor host names that resolve to loopback or private addresses
    "crawler.safety.RefreshGuard": 582,  # unsafe or offsite meta refresh: after the challenge check, before MetaRefresh
    "crawler.safety.RedirectGuard": 610,  # unsafe or offsite Location: before RedirectMiddleware (600)
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.EncodingMiddleware": 560,
    "crawler.sniff.BinarySniffMiddleware": 570,  # binary sent as text/html: after decompression, before encoding
    "crawler.middlewares.ChallengeMiddleware": 585,  # after decompression, before meta-refresh follows a challenge
    "crawler.middlewares.HostMapMiddleware": 740,  # before HttpProxyMiddleware (750) reads meta["proxy"]
    "crawler.middlewares.WarcMiddleware": 950,  # next to the downloader: records the bytes as received
}

ITEM_PIPELINES = {
    "pipelines.scrapy_adapter.CleanPipeline": 300,
    "pipelines.scrapy_adapter.ArchivePipeline": 800,
}
# Cleaning and archive writes run in this many workers (pipelines.offload), off the reactor: one core is left to
# the reactor.  Each worker is two processes, a cleaner and the writer it feeds.  0 runs them inline, one item at a
# time (debugging).  A writer writes what it holds in one transaction when it holds QSNEWS_WRITE_BATCH items or
# no item came for pipelines.offload.LINGER.
QSNEWS_CLEAN_WORKERS = int(os.environ.get("QSNEWS_CLEAN_WORKERS", max(1, (os.cpu_count() or 1) - 1)))
QSNEWS_WRITE_BATCH = 200
# Outputs of one response handled at once.  Scrapy starts this many tasks per response whatever it yields (one
# item for an article page): 100, its default, cost ~1 ms of event loop per page; 16 still lets a list page's
# requests pass its PageItem while a worker archives it.
CONCURRENT_ITEMS = 16

# {"www.cqn.com.cn": "127.0.0.1:8123", ...}: serve these hosts from the loopback sample sites.
QSNEWS_HOST_MAP = {}
# Crawl literal loopback URLs (tests only; host-mapped requests keep their real host and need no exception).
QSNEWS_ALLOW_LOOPBACK = False
QSNEWS_WARC_DIR = "data/warc"
QSNEWS_DB = "data/qsnews.db"

# Scale-out (crawler.scaleout): a Redis URL makes this crawl a worker sharing its scheduler through Redis.
# `qsnews crawl` sets it from $QSNEWS_REDIS_URL; a scrapyd job takes `setting=QSNEWS_REDIS_URL=...`.
QSNEWS_REDIS_URL = ""
QSNEWS_WORKER_TTL = 30.0  # seconds without a heartbeat before other workers re-queue a worker's requests
ADDONS = {"crawler.scaleout.RedisMode": 0}
EXTENSIONS = {
    "crawler.known.KnownArticles": 100,  # scrapyd jobs and workers: known articles from the archive or Redis
    "crawler.progress.CrawlProgress": 500,
    "crawler.storage.StorageGuard": 510,  # a full or read-only disk stops the crawl with a clear error
}
QSNEWS_PROGRESS_INTERVAL = 30.0  # seconds between progress lines in the log

FEED_EXPORT_ENCODING = "utf-8"
TELNETCONSOLE_ENABLED = False
