"""Progress of long commands: items, requests/s, errors and an ETA where the total is known.

``ProgressLine`` redraws one line in place on an interactive stderr (at most
once a second) and stays silent otherwise, so cron mail and test output are
not filled with carriage returns.  ``CrawlProgress`` is the Scrapy extension
behind `qsnews crawl`: every crawler of the process (one per source) reports
to one shared line, and each also logs its own figures every
QSNEWS_PROGRESS_INTERVAL seconds (default 30) to the run's log.  A crawl's
total is not known in advance; its page budget is an upper bound, so the
ETA it gives is a bound too ("≤").
"""
from __future__ import annotations

import logging
import sys
import time

from scrapy import signals

from crawler.items import PageItem

logger = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class ProgressLine:
    """``update(done, left=…, fields={…})`` -> "ingest: 120 messages · 4.1/s · new 3 · 60 left · ETA 0m15s"."""

    def __init__(self, label: str, unit: str = "done", stream=None, interval: float = 1.0):
        self.label, self.unit, self.interval = label, unit, interval
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.drawn = False

    def text(self, done: int, left: int | None = None, fields: dict | None = None, bound: bool = False) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        parts = [f"{self.label}: {done} {self.unit}", f"{rate:.1f}/s"]
        parts += [f"{name} {value}" for name, value in (fields or {}).items()]
        if left is not None:
            parts.append(f"{left} left")
            if rate > 0 and left:
                parts.append(f"ETA {'≤ ' if bound else ''}{_duration(left / rate)}")
        return " · ".join(parts)

    def update(self, done: int, left: int | None = None, fields: dict | None = None, bound: bool = False) -> None:
        now = time.monotonic()
        if not self.interactive or now - self.drawn_at < self.interval:
            return
        self.drawn_at, self.drawn = now, True
        self.stream.write("\r\x1b[K" + self.text(done, left, fields, bound))
        self.stream.flush()

    def close(self) -> None:
        """End the line so what the command prints next starts on its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class _Board:
    """The one progress line of a process, summing every crawler's counts."""

    def __init__(self):
        self.counters: list[dict] = []
        self.line = ProgressLine("crawl", "requests")

    def draw(self) -> None:
        total = {k: sum(c[k] for c in self.counters) for k in ("requests", "items", "errors", "budget")}
        left = max(total["budget"] - total["requests"], 0)
        self.line.update(total["requests"], left=left, bound=True,
                         fields={"items": total["items"], "errors": total["errors"]})

    def closed(self, counter: dict) -> None:
        counter["open"] = False
        if not any(c["open"] for c in self.counters):
            self.line.close()
            self.counters.clear()


_board: _Board | None = None


class CrawlProgress:
    """Counts requests, items and errors (error/blocked pages, spider exceptions) of one crawler."""

    def __init__(self, crawler):
        global _board
        _board = _board or _Board()
        self.board = _board
        self.interval = crawler.settings.getfloat("QSNEWS_PROGRESS_INTERVAL", 30.0)
        self.counter = {"requests": 0, "items": 0, "errors": 0, "budget": 0, "open": True}
        self.logged_at = time.monotonic()
        self.started = time.monotonic()
        self.board.counters.append(self.counter)
        for handler, signal in ((self.spider_opened, signals.spider_opened),
                                (self.response_received, signals.response_received),
                                (self.item_scraped, signals.item_scraped),
                                (self.spider_error, signals.spider_error),
                                (self.spider_closed, signals.spider_closed)):
            crawler.signals.connect(handler, signal)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider):
        self.counter["budget"] = getattr(spider, "max_pages", 0) or 0
        self.spider = spider

    def response_received(self, response, request, spider):
        self.counter["requests"] += 1
        self.tick()

    def item_scraped(self, item, response, spider):
        self.counter["items"] += 1
        if isinstance(item, PageItem) and item.get("outcome") in ("error", "blocked"):
            self.counter["errors"] += 1
        self.tick()

    def spider_error(self, failure, response, spider):
        self.counter["errors"] += 1

    def tick(self) -> None:
        self.board.draw()
        now = time.monotonic()
        if now - self.logged_at >= self.interval:
            self.logged_at = now
            self.log()

    def log(self) -> None:
        c = self.counter
        rate = c["requests"] / max(time.monotonic() - self.started, 1e-6)
        self.spider.logger.info("progress: %d requests (%.1f/s, budget %d), %d items, %d errors",
                                c["requests"], rate, c["budget"], c["items"], c["errors"])

    def spider_closed(self, spider, reason):
        self.log()
        self.board.closed(self.counter)
