"""`qsnews ingest`: drain the workers' Redis item list into the archive, the one SQLite writer.

Each message is moved (BLMOVE) to a processing list before it is written and
removed from there after: an ingester killed mid-write leaves it in the
processing list, and the next one writes it first.  Writes are idempotent
upserts, so a message written twice changes nothing.

``crawl_runs``: one row per source, opened by the first message of that
source and closed by the ``crawl_done`` message the last worker of a crawl
pushes (with the crawl's request count), or when the ingester stops, with
what it has written so far.

The ingester also keeps the set of known article URLs that workers read
(crawler.known): seeded from the archive at start, then one URL per archived
article.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from archive.store import Archive, RunCounts
from crawler.progress import ProgressLine
from crawler.scaleout import ITEMS_KEY, KNOWN_KEY, connect

PROCESSING_KEY = ITEMS_KEY + ":processing"


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


class Run:
    """The open crawl_runs row of one source and the counts it will be closed with."""

    def __init__(self, archive: Archive, source_id: int):
        self.source_id = source_id
        self.id = archive.start_run(source_id)
        self.counts = RunCounts()

    def finish(self, archive: Archive, requests: int = 0) -> None:
        archive.close_run(self.id, self.source_id, self.counts, requests)


class Ingester:
    def __init__(self, archive: Archive, server):
        self.archive, self.server = archive, server
        self.source_ids: dict[str, int] = {}
        self.runs: dict[str, Run] = {}
        self.counts = {"messages": 0, "new": 0, "updated": 0, "unchanged": 0, "errors": 0, "crawls_done": 0}

    def publish_known(self) -> None:
        """Every archived article URL into the known set, for workers' incrementality."""
        known = sorted(self.archive.known_article_urls())
        for start in range(0, len(known), 10_000):  # bounded commands, whatever the archive's size
            self.server.sadd(KNOWN_KEY, *known[start:start + 10_000])

    def source_id(self, source: dict) -> int:
        name = source["name"]
        if name not in self.source_ids:
            self.source_ids[name] = self.archive.upsert_source(source)
        return self.source_ids[name]

    def run(self, source: dict) -> Run:
        name = source["name"]
        if name not in self.runs:
            self.runs[name] = Run(self.archive, self.source_id(source))
        return self.runs[name]

    def apply(self, message: dict) -> None:
        source = message["source"]
        run = self.run(source)
        self.counts["messages"] += 1
        if message["type"] == "crawl_done":
            self.runs.pop(source["name"]).finish(self.archive, requests=message.get("requests") or 0)
            self.counts["crawls_done"] += 1
            return
        page = {**message["page"], "source_id": run.source_id}
        record = message["record"] if message["type"] == "article" else None
        (status,) = self.archive.store_batch([(record, page)])  # the article with its page, one transaction
        if isinstance(status, Exception):  # a record the archive refuses: its page says why, the rest goes on
            page.update(outcome="error", reason=f"archiving failed: {type(status).__name__}: {status}")
            self.archive.record_page(page)
        run.counts.add(page["outcome"], status)
        if status in ("new", "updated", "unchanged"):
            self.counts[status] += 1
            self.server.sadd(KNOWN_KEY, record["url"])
        elif page["outcome"] in ("error", "blocked"):
            self.counts["errors"] += 1

    def take(self, raw: bytes) -> None:
        """Write one message, then acknowledge it by removing it from the processing list."""
        self.apply(json.loads(raw))
        self.server.lrem(PROCESSING_KEY, 1, raw)

    def finish_open_runs(self) -> None:
        for run in self.runs.values():
            run.finish(self.archive)
        self.runs.clear()


def ingest(db_path, redis_url: str, *, until_empty: bool = False, idle_timeout: float | None = None) -> dict:
    """Drain the item list into ``db_path``; forever, until it is empty, or until idle for ``idle_timeout`` s.

    Returns counts: messages, new/updated/unchanged articles, error pages, crawls_done.
    """
    server = connect(redis_url)
    with Archive(db_path) as archive:
        ingester = Ingester(archive, server)
        ingester.publish_known()
        progress = ProgressLine("ingest", "messages")
        try:
            for raw in reversed(server.lrange(PROCESSING_KEY, 0, -1)):  # left by a killed ingester: oldest first
                ingester.take(raw)
            idle_since = time.monotonic()
            while True:
                if until_empty:
                    raw = server.lmove(ITEMS_KEY, PROCESSING_KEY, "RIGHT", "LEFT")
                else:
                    raw = server.blmove(ITEMS_KEY, PROCESSING_KEY, 1, "RIGHT", "LEFT")
                if raw is None:
                    if until_empty or (idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout):
                        break
                    continue
                ingester.take(raw)
                idle_since = time.monotonic()
                c = ingester.counts
                progress.update(c["messages"], left=server.llen(ITEMS_KEY),
                                fields={"new": c["new"], "updated": c["updated"], "errors": c["errors"]})
        finally:
            ingester.finish_open_runs()
            progress.close()
    return ingester.counts
