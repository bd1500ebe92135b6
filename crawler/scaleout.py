"""Scale-out: many crawl workers share one Redis; one `qsnews ingest` writes SQLite.

With ``QSNEWS_REDIS_URL`` set (environment, ``-s`` or a scrapyd ``setting=``)
the ``RedisMode`` add-on switches a crawl to worker mode:

* the scheduler is ``SharedScheduler`` (scrapy-redis's, keyed per spider name
  and source), so every worker crawling the same source shares one request
  queue, one dupefilter and one page budget: a URL is requested once per crawl
  whichever worker finds it;
* the item pipelines become CleanPipeline -> ``RedisPushPipeline``: cleaned
  items go to one Redis list as JSON and workers never touch SQLite, which
  keeps a single writer (``crawler.ingest``).

Nothing is lost when a worker dies.  scrapy-redis pops requests
destructively; here a pop moves the request into the worker's lease hash in
the same Lua call, and the lease is dropped only once the engine is done with
the request: its items pushed and the requests it led to queued (retries and
redirects included, they are queued as new requests first).  Each worker keeps
an ``alive`` key with a TTL; a worker that finds another's key expired puts
that worker's leases back in the queue.  So a killed worker's in-flight pages
are fetched again by another, and only those.

A crawl ends when the queue is empty and every registered worker is idle or
dead with no leases; the worker that sees this first deletes the crawl's keys
(so the next crawl starts afresh) and pushes a ``crawl_done`` message that
lets the ingester close the ``crawl_runs`` row.

Redis holds pickled requests (scrapy-redis's serialiser): it must be private
to the crawl machines (bind address, password in the URL).
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import socket

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.misc import load_object
from scrapy_redis import picklecompat
from scrapy_redis.connection import get_redis, get_redis_from_settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from crawler.items import ArticleItem
from pipelines.scrapy_adapter import page_row

logger = logging.getLogger(__name__)

ITEMS_KEY = "qsnews:items"  # the one list every worker pushes to and `qsnews ingest` drains
KNOWN_KEY = "qsnews:known"  # set of archived article URLs: kept by the ingester, read by workers (crawler.known)


def connect(url: str):
    """A Redis client as scrapy-redis makes one (bytes replies: requests are pickles)."""
    return get_redis(url=url)


class RedisMode:
    """Add-on: worker mode when QSNEWS_REDIS_URL is set, plain single-process crawl otherwise."""

    def update_settings(self, settings):
        url = settings.get("QSNEWS_REDIS_URL")
        if not url:
            return
        settings.set("REDIS_URL", url, priority="addon")
        settings.set("SCHEDULER", "crawler.scaleout.SharedScheduler", priority="addon")
        # scrapy-redis builds the dupefilter itself unless the class is its own; ours is made per source in open().
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="addon")
        settings.replace_in_component_priority_dict(
            "ITEM_PIPELINES", load_object("pipelines.scrapy_adapter.ArchivePipeline"), RedisPushPipeline)


class CrawlKeys:
    """Names of one crawl's keys: per spider name and source, so sources crawl independently."""

    def __init__(self, spider_name: str, source_name: str):
        self.prefix = f"qsnews:crawl:{spider_name}:{source_name}:"
        for name in ("requests", "dupefilter", "budget", "fetched", "workers", "idle", "sequence"):
            setattr(self, name, self.prefix + name)

    def lease(self, worker: str) -> str:
        return f"{self.prefix}lease:{worker}"

    def alive(self, worker: str) -> str:
        return f"{self.prefix}alive:{worker}"


# Pop the best request and lease it to the worker in one step: a kill between the two cannot lose it.
POP_AND_LEASE = """
local popped = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #popped == 0 then return false end
redis.call('ZREM', KEYS[1], popped[1])
local field = redis.call('INCR', KEYS[3]) .. ':' .. popped[2]
redis.call('HSET', KEYS[2], field, popped[1])
return {field, popped[1]}
"""

# Renew the alive key; re-register only while the crawl still exists (a worker stalled past the TTL
# was taken for dead and dropped; once the crawl has ended it must not start a new one by itself).
HEARTBEAT = """
redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('SADD', KEYS[2], ARGV[2]) end
"""

# An idle worker marks itself idle and asks: is the crawl over?  KEYS: workers, idle, queue, fetched
# count, then the crawl's other keys; ARGV: key prefix, worker.  Answers 0: not yet; -1: this worker is
# no longer registered (another ended the crawl); else the crawl's fetch count + 1, after deleting all
# its keys: one worker only gets that answer.  Over means: nothing queued, and every registered worker
# idle or dead, with no leases (a dead worker's leases are queued again first, see reclaim_dead).
FINISH_IF_DONE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 0 then return -1 end
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('ZCARD', KEYS[3]) > 0 then return 0 end
local members = redis.call('SMEMBERS', KEYS[1])
for _, m in ipairs(members) do
  local alive = redis.call('EXISTS', ARGV[1] .. 'alive:' .. m) == 1
  if alive and redis.call('SISMEMBER', KEYS[2], m) == 0 then return 0 end
  if redis.call('HLEN', ARGV[1] .. 'lease:' .. m) > 0 then return 0 end
end
local fetched = tonumber(redis.call('GET', KEYS[4]) or '0')
for _, m in ipairs(members) do
  redis.call('DEL', ARGV[1] .. 'alive:' .. m, ARGV[1] .. 'lease:' .. m)
end
for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
return fetched + 1
"""


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler with per-source keys, leased requests, a shared budget and a clean end."""

    @classmethod
    def from_crawler(cls, crawler):
        instance = super().from_crawler(crawler)
        instance.crawler = crawler
        instance.ttl = crawler.settings.getfloat("QSNEWS_WORKER_TTL", 30.0)
        # Unique even when a restarted container reuses the pid of a worker that died holding leases.
        instance.worker = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        instance.leased = {}  # Request -> lease field, while the engine works on it
        instance.pop_and_lease = instance.server.register_script(POP_AND_LEASE)
        instance.finish_if_done = instance.server.register_script(FINISH_IF_DONE)
        instance.heartbeat_script = instance.server.register_script(HEARTBEAT)
        crawler.signals.connect(instance.spider_idle, signals.spider_idle)
        crawler.signals.connect(instance.response_received, signals.response_received)
        return instance

    def open(self, spider):
        from twisted.internet import task

        self.spider = spider
        self.keys = CrawlKeys(spider.name, spider.source.name)
        self.df = RFPDupeFilter(self.server, key=self.keys.dupefilter,
                                debug=spider.settings.getbool("DUPEFILTER_DEBUG"))
        self.queue = PriorityQueue(self.server, spider, self.keys.requests.replace("%", "%%"),
                                   serializer=self.serializer or picklecompat)
        self.beat()  # alive before registered: another worker never takes a fresh worker for a dead one
        self.server.sadd(self.keys.workers, self.worker)
        self.ticker = task.LoopingCall(self.tick)
        self.ticker.start(min(self.ttl / 3, 1.0), now=False)
        self.reclaim_dead()
        if len(self.queue):
            logger.info("%s: joining a crawl with %d requests queued", spider.source.name, len(self.queue))

    def tick(self):
        """Heartbeat, and a nudge to the engine to look at the shared queue (and, if idle, at the crawl's end).

        An idle Scrapy engine looks at its scheduler only every 5 s; requests
        other workers queue would wait that long here.  ``_slot.nextcall`` is
        the engine's own "look again" call (not a public API, like
        ``inprogress`` below).
        """
        self.beat()
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()

    def beat(self):
        self.heartbeat_script(keys=[self.keys.alive(self.worker), self.keys.workers],
                              args=[int(self.ttl * 1000), self.worker])

    # ------------------------------------------------------------------ requests
    def enqueue_request(self, request):
        """Dupefilter and page budget are shared by every worker of this crawl."""
        if not request.dont_filter:
            if self.df.request_seen(request):
                self.df.log(request, self.spider)
                return False
            if self.server.incr(self.keys.budget) > self.spider.max_pages:
                self.stats.inc_value("qsnews/budget_exhausted")
                return False
        self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self):
        self.release_done()
        reply = self.pop_and_lease(keys=[self.keys.requests, self.keys.lease(self.worker), self.keys.sequence])
        if not reply:
            return None
        field, data = reply
        self.server.srem(self.keys.idle, self.worker)
        request = self.queue._decode_request(data)
        self.leased[request] = field
        self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self):
        return len(self.queue) > 0

    def release_done(self):
        """Drop the leases of requests the engine has finished with.

        The engine keeps a request in its slot's ``inprogress`` set from
        download start until its callback's items and requests are all
        handled (Scrapy's ExecutionEngine; not a public API, which the
        two-worker test guards).  Leaving it means nothing of it can be lost.
        """
        slot = getattr(self.crawler.engine, "_slot", None)
        inprogress = slot.inprogress if slot is not None else set()
        done = [request for request in self.leased if request not in inprogress]
        if done:
            self.server.hdel(self.keys.lease(self.worker), *(self.leased.pop(request) for request in done))

    def response_received(self, response, request, spider):
        self.server.incr(self.keys.fetched)

    # ------------------------------------------------------------------ workers
    def reclaim_dead(self):
        """Put the leases of workers whose ``alive`` key has expired back in the queue."""
        for member in self.server.smembers(self.keys.workers):
            worker = member.decode()
            if worker != self.worker and not self.server.exists(self.keys.alive(worker)):
                self.give_back(worker)

    def give_back(self, worker: str):
        leases = self.server.hgetall(self.keys.lease(worker))
        pipe = self.server.pipeline()
        for field, data in leases.items():
            pipe.zadd(self.keys.requests, {data: float(field.split(b":", 1)[1])})
        pipe.delete(self.keys.lease(worker), self.keys.alive(worker))
        pipe.srem(self.keys.workers, worker)
        pipe.srem(self.keys.idle, worker)
        pipe.execute()
        if leases:
            logger.warning("%s: %d requests leased to worker %s queued again",
                           self.spider.source.name, len(leases), worker)

    def spider_idle(self, spider):
        """Stay open while another live worker may still queue requests; end the crawl once all are idle."""
        self.release_done()
        self.reclaim_dead()
        self.beat()
        k = self.keys
        result = self.finish_if_done(keys=[k.workers, k.idle, k.requests, k.fetched, k.dupefilter, k.budget,
                                           k.sequence], args=[k.prefix, self.worker])
        if result == 0:
            raise DontCloseSpider
        if result > 0:
            self.server.lpush(ITEMS_KEY, json.dumps({"type": "crawl_done", "source": spider.source.row(),
                                                     "requests": result - 1, "worker": self.worker},
                                                    ensure_ascii=False))

    def close(self, reason):
        """Leave the crawl; requests still leased (a shutdown mid-crawl) go back to the queue."""
        if self.ticker.running:
            self.ticker.stop()
        self.release_done()
        if self.server.sismember(self.keys.workers, self.worker):
            self.give_back(self.worker)


class RedisPushPipeline:
    """Last pipeline in worker mode: each item, cleaned, goes to the shared list as one JSON message."""

    def __init__(self, server, crawler=None):
        self.server, self.crawler = server, crawler

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured("RedisPushPipeline needs QSNEWS_REDIS_URL")
        return cls(get_redis_from_settings(crawler.settings), crawler)

    def process_item(self, item, spider=None):  # Scrapy >= 2.14 passes no spider (2.11-2.13 do)
        spider = spider or self.crawler.spider
        self.server.lpush(ITEMS_KEY, encode_item(item, spider.source.row()))
        return item


def encode_item(item, source: dict) -> str:
    """``{"type": "article" | "page", "source": row, "page": pages row[, "record": cleaned record]}``."""
    adapter = ItemAdapter(item)
    if isinstance(item, ArticleItem):
        message = {"type": "article", "page": page_row(item, "article"), "record": adapter["record"]}
    else:
        message = {"type": "page", "page": page_row(item, adapter["outcome"], adapter.get("reason"))}
    return json.dumps({**message, "source": source}, ensure_ascii=False)
