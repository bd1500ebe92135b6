"""Known articles for a spider its caller gave none: what keeps scrapyd jobs and workers incremental.

`qsnews crawl` passes the archive's known article URLs to each spider.  A job
that scrapyd starts (`scrapy crawl`), or a scale-out worker on a machine
without the archive, gets none; this extension fills them in when the spider
opens, unless it was asked to ``refresh``:

* worker mode (QSNEWS_REDIS_URL): from the Redis set the ingester keeps
  (``crawler.scaleout.KNOWN_KEY``), seeded from the archive each time
  `qsnews ingest` starts and grown with every article it archives.  Known URLs
  rather than a pre-seeded dupefilter, because the spider also uses them to
  stop paging at a list page with nothing new;
* otherwise: from the archive at QSNEWS_DB, when it exists.
"""
from __future__ import annotations

from pathlib import Path

from scrapy import signals


class KnownArticles:
    def __init__(self, settings):
        self.redis_url = settings.get("QSNEWS_REDIS_URL")
        self.db_path = settings.get("QSNEWS_DB")

    @classmethod
    def from_crawler(cls, crawler):
        extension = cls(crawler.settings)
        crawler.signals.connect(extension.spider_opened, signals.spider_opened)
        return extension

    def spider_opened(self, spider):
        if getattr(spider, "known_urls", None) is None or spider.known_urls or spider.refresh:
            return
        spider.known_urls = self.load()
        if spider.known_urls:
            spider.logger.info("%s: %d known articles will not be fetched again",
                               spider.source.name, len(spider.known_urls))

    def load(self) -> set[str]:
        """Every archived article URL, as `qsnews crawl` passes them (a URL is one article whatever the source)."""
        if self.redis_url:
            from crawler.scaleout import KNOWN_KEY, connect

            return {url.decode() for url in connect(self.redis_url).smembers(KNOWN_KEY)}
        if self.db_path and Path(self.db_path).exists():
            from archive.store import Archive

            with Archive(self.db_path) as archive:
                return archive.known_article_urls()
        return set()
