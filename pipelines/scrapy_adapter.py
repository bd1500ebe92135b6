"""Scrapy adapters: the cleaning chain and the archive as item pipelines.

Spiders yield raw pages (``ArticleItem``) and navigation outcomes
(``PageItem``); these two pipelines turn the first into ``articles`` records
and write both to the archive, each article in one transaction with its
pages row.  A page that fails to clean is recorded in ``pages`` with its
reason and the crawl goes on.

With QSNEWS_CLEAN_WORKERS > 0 (the default) cleaning and writing leave the
reactor: ArchivePipeline hands raw items to workers (pipelines.offload:
a cleaner process feeding a writer process) that clean them and write them
in batches, and CleanPipeline stands aside.  With 0 both run inline, one
item at a time.
Either way the archive ends with the same rows and the run with the same
counts.  In worker mode an ArticleItem leaves the pipelines without its
``record`` (it stays in the worker).
"""
from __future__ import annotations

import logging
from pathlib import Path

from itemadapter import ItemAdapter
from scrapy.exceptions import NotConfigured
from scrapy.utils.conf import build_component_list
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.misc import load_object

from archive.store import RunCounts
from crawler.items import ArticleItem, PageItem
from pipelines import offload
from pipelines.boilerplate import learn_template
from pipelines.offload import PAGE_FIELDS, clean_article, page_values

logger = logging.getLogger(__name__)


def source_context(source: dict) -> dict:
    """A source (name, kind, level, region_code) as the cleaning chain wants it: codes plus place names."""
    from pipelines.regions import lookup

    ctx = {key: source.get(key) for key in ("name", "kind", "level", "region_code")}
    region = lookup(ctx["region_code"] or "")
    if region is not None:
        ctx.update(province=region.province, prefecture=region.prefecture, county=region.county)
    return ctx


def page_row(item, outcome: str, reason: str | None = None) -> dict:
    return page_values(ItemAdapter(item), outcome, reason)


def page_item(item, outcome: str, reason: str) -> PageItem:
    """The PageItem saying why an ArticleItem yielded no article."""
    adapter = ItemAdapter(item)
    page = PageItem(outcome=outcome, reason=reason, source_name=adapter.get("source_name"))
    for name in PAGE_FIELDS:
        page[name] = adapter.get(name)
    return page


def learned_template(archive, source_name: str) -> frozenset[str]:
    """The paragraphs that recur on a source's archived pages: its furniture, boilerplate from now on."""
    return learn_template(archive.source_paragraph_texts(source_name))


def offloading(settings) -> bool:
    """Whether ArchivePipeline's workers clean (QSNEWS_CLEAN_WORKERS > 0 and the archive pipeline enabled)."""
    enabled = build_component_list(settings.get_component_priority_dict_with_base("ITEM_PIPELINES"))
    return settings.getint("QSNEWS_CLEAN_WORKERS") > 0 and ArchivePipeline in map(load_object, enabled)


class CleanPipeline:
    """ArticleItem -> item carrying the cleaned ``record`` (or a PageItem saying why not).

    The source's context (region names, and the template learned from its archived pages) is worked
    out once per spider, not per page.
    """

    def __init__(self, db_path: str | None = None):
        self.db_path = db_path

    @classmethod
    def from_crawler(cls, crawler):
        if offloading(crawler.settings):
            raise NotConfigured()  # ArchivePipeline's workers clean
        pipeline = cls(crawler.settings.get("QSNEWS_DB"))
        pipeline.crawler = crawler
        return pipeline

    def open_spider(self, spider=None):  # Scrapy >= 2.14 passes no spider to methods that do not require it
        """A worker without the archive (scale-out) cleans without a learned template."""
        from archive.store import Archive

        spider = spider or self.crawler.spider
        self.source = source_context(spider.source.row())
        if self.db_path and Path(self.db_path).exists():
            with Archive(self.db_path) as archive:
                self.source["template"] = learned_template(archive, spider.source.name)

    def process_item(self, item, spider=None):
        if not isinstance(item, ArticleItem):
            return item
        record, outcome, reason = clean_article(ItemAdapter(item), self.source)
        if record is None:
            if outcome == "error":
                logger.warning("%s: %s", ItemAdapter(item)["url"], reason)
            return page_item(item, outcome, reason)
        item["record"] = record
        return item


class ArchivePipeline:
    """Writes pages and cleaned articles to the archive and keeps the run's counts."""

    def __init__(self, db_path: str, workers: int = 0, batch_size: int = 200):
        self.db_path, self.workers, self.batch_size = db_path, workers, batch_size
        self.counts = RunCounts()
        self.pool = None
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        pipeline = cls(settings.get("QSNEWS_DB"), settings.getint("QSNEWS_CLEAN_WORKERS"),
                       settings.getint("QSNEWS_WRITE_BATCH"))
        pipeline.crawler = crawler
        return pipeline

    def open_spider(self, spider=None):
        from archive.store import Archive

        spider = spider or self.crawler.spider
        self.archive = Archive(self.db_path)
        self.source_id = self.archive.upsert_source(spider.source.row())
        self.run_id = self.archive.start_run(self.source_id)
        if self.workers:
            context = {**source_context(spider.source.row()),
                       "template": learned_template(self.archive, spider.source.name)}
            self.pool = offload.acquire(self.db_path, self.workers, self.batch_size)
            self.pool.add_source(self.source_id, context)

    def process_item(self, item, spider=None):
        if self.pool is not None:
            return self._archive_in_worker(item)
        if isinstance(item, ArticleItem):
            record, outcome, reason = ItemAdapter(item)["record"], "article", None
        else:
            record, outcome, reason = None, item["outcome"], item.get("reason")
        self._store(item, outcome, reason, record)
        return item

    async def _archive_in_worker(self, item):
        """Clean (an ArticleItem) and store in a worker; what the inline pipelines would return."""
        kind = "article" if isinstance(item, ArticleItem) else "page"
        try:
            outcome, reason, status = await maybe_deferred_to_future(
                self.pool.submit(self.source_id, kind, ItemAdapter(item).asdict()))
        except offload.WorkerDied as exc:  # a page row is written here; an article is lost with its cleaning
            archived = kind == "article" and self.archive.archived_fetch(item["url"], item.get("fetched_at"))
            if archived:  # the worker wrote it, then died before saying so
                outcome, reason = "article", None
                self._count(outcome, "new" if archived == "new" else None)
            else:
                outcome, reason = ("error", str(exc)) if kind == "article" else (item["outcome"], item.get("reason"))
                self._store(item, outcome, reason)
            if not self.pool.workers:
                self._stop_crawl()
        else:
            self._count(outcome, status)
        if kind == "article" and outcome != "article":
            if outcome == "error":
                logger.warning("%s: %s", item["url"], reason)
            return page_item(item, outcome, reason)
        return item

    def _store(self, item, outcome: str, reason: str | None, record: dict | None = None) -> None:
        page = {**page_row(item, outcome, reason), "source_id": self.source_id}
        (status,) = self.archive.store_batch([(record, page)])
        self._count(outcome, status)

    def _count(self, outcome: str, status) -> None:
        """Count a stored item; a failed write (its exception in place of a status) fails the item."""
        if isinstance(status, Exception):
            raise status
        self.counts.add(outcome, status)

    def _stop_crawl(self) -> None:
        if not self.stopping:
            self.stopping = True
            logger.error("no cleaning worker is left; stopping the crawl")
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="cleaning_workers_failed"))

    async def close_spider(self, spider=None):
        if self.pool is not None:
            await maybe_deferred_to_future(offload.release(self.pool))
        requests = self.crawler.stats.get_value("downloader/request_count", 0)
        self.archive.close_run(self.run_id, self.source_id, self.counts, requests)
