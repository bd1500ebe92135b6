"""Scrapy adapters: the cleaning chain and the archive as item pipelines.

Spiders yield raw pages (``ArticleItem``) and navigation outcomes
(``PageItem``); these two pipelines turn the first into ``articles`` records
and write both to the archive.  A page that fails to clean is recorded in
``pages`` with its reason and the crawl goes on.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from itemadapter import ItemAdapter

from crawler.items import ArticleItem, PageItem
from pipelines.boilerplate import learn_template
from pipelines.chain import extract_html

logger = logging.getLogger(__name__)

PAGE_FIELDS = ("url", "http_status", "fetched_at", "content_type", "encoding", "sha256", "warc_file", "warc_offset",
               "etag", "last_modified")


def source_context(source: dict) -> dict:
    """A source (name, kind, level, region_code) as the cleaning chain wants it: codes plus place names."""
    from pipelines.regions import lookup

    ctx = {key: source.get(key) for key in ("name", "kind", "level", "region_code")}
    region = lookup(ctx["region_code"] or "")
    if region is not None:
        ctx.update(province=region.province, prefecture=region.prefecture, county=region.county)
    return ctx


def page_row(item, outcome: str, reason: str | None = None) -> dict:
    adapter = ItemAdapter(item)
    row = {name: adapter.get(name) for name in PAGE_FIELDS}
    row.update(outcome=outcome, reason=reason)
    return row


def learned_template(archive, source_name: str) -> frozenset[str]:
    """The paragraphs that recur on a source's archived pages: its furniture, boilerplate from now on."""
    return learn_template(archive.source_paragraph_texts(source_name))


class CleanPipeline:
    """ArticleItem -> item carrying the cleaned ``record`` (or a PageItem saying why not).

    The source's context (region names, and the template learned from its archived pages) is worked
    out once per spider, not per page.
    """

    def __init__(self, db_path: str | None = None):
        self.db_path = db_path

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("QSNEWS_DB"))

    def open_spider(self, spider):
        """A worker without the archive (scale-out) cleans without a learned template."""
        from archive.store import Archive

        self.source = source_context(spider.source.row())
        if self.db_path and Path(self.db_path).exists():
            with Archive(self.db_path) as archive:
                self.source["template"] = learned_template(archive, spider.source.name)

    def process_item(self, item, spider):
        if not isinstance(item, ArticleItem):
            return item
        adapter = ItemAdapter(item)
        try:
            record = extract_html(
                adapter["html"],
                url=adapter["url"],
                source=self.source,
                hints=adapter.get("hints") or {},
            )
        except Exception as exc:  # one broken page never stops a crawl
            logger.warning("cleaning failed for %s: %r", adapter["url"], exc)
            return self._page(item, "error", f"cleaning failed: {type(exc).__name__}: {exc}")
        if not record.get("body"):
            return self._page(item, "skipped", "no article text found on the page")
        adapter["record"] = record
        return item

    @staticmethod
    def _page(item, outcome, reason):
        adapter = ItemAdapter(item)
        page = PageItem(outcome=outcome, reason=reason, source_name=adapter.get("source_name"))
        for name in PAGE_FIELDS:
            page[name] = adapter.get(name)
        return page


class ArchivePipeline:
    """Writes pages and cleaned articles to the archive and keeps the run's counts."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self.counts = {"new_articles": 0, "updated_articles": 0, "errors": 0, "blocked": 0}

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler.settings.get("QSNEWS_DB"))
        pipeline.crawler = crawler
        return pipeline

    def open_spider(self, spider):
        from archive.store import Archive

        self.archive = Archive(self.db_path)
        self.source_id = self.archive.upsert_source(spider.source.row())
        self.run_id = self.archive.start_run(self.source_id)

    def process_item(self, item, spider):
        adapter = ItemAdapter(item)
        if isinstance(item, ArticleItem):
            seen_at = adapter.get("fetched_at") or _now()
            _, status = self.archive.upsert_article(adapter["record"], self.source_id, seen_at)
            if status in ("new", "updated"):
                self.counts[f"{status}_articles"] += 1
            self.archive.record_page({**page_row(item, "article"), "source_id": self.source_id})
        else:
            outcome = adapter["outcome"]
            if outcome in ("error", "blocked"):
                self.counts["errors" if outcome == "error" else "blocked"] += 1
            self.archive.record_page({**page_row(item, outcome, adapter.get("reason")), "source_id": self.source_id})
        return item

    def close_spider(self, spider):
        stats = self.crawler.stats
        requests = stats.get_value("downloader/request_count", 0)
        if self.counts["blocked"]:
            status = "blocked"
        elif self.counts["errors"]:
            status = "partial"
        else:
            status = "ok"
        self.archive.set_source_status(self.source_id, status)
        self.archive.finish_run(self.run_id, requests=requests, status=status, **self.counts)


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
