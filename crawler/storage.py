"""When the archive cannot be written: stop, say why in one line, exit non-zero.

A read-only folder, a full disk or an I/O error would otherwise show up as a
traceback before the crawl starts, or, once it runs, as one logged error per
item while the crawl carries on fetching pages it cannot keep.  Here:

* ``describe`` turns the OSError / sqlite3 error into a person's sentence
  (None for any other error, which stays a bug to see);
* ``StorageGuard`` (a Scrapy extension) closes the spider at the first item
  the archive failed to write and records the sentence in the crawl stats;
* ``raise_if_failed`` turns that into ``ArchiveUnwritable`` once the crawl
  process has stopped, for the command line to print.

Nothing half-written is left: every archive write is one transaction
(archive.store), so the failing one rolls back as a whole.
"""
from __future__ import annotations

import errno
import logging
import sqlite3

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro

logger = logging.getLogger(__name__)

STAT = "qsnews/archive_unwritable"
FULL = "the disk is full"
READ_ONLY = "the folder or file is read-only or not writable"
_ERRNO = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EFBIG: "the file size limit is reached",
          errno.EROFS: READ_ONLY, errno.EACCES: READ_ONLY, errno.EPERM: READ_ONLY, errno.EIO: "disk I/O error"}
_SQLITE = (("disk is full", FULL), ("readonly database", READ_ONLY), ("read-only", READ_ONLY),
           ("unable to open database file", READ_ONLY + " (cannot create the database file)"),
           ("disk i/o error", "disk I/O error"))


class ArchiveUnwritable(RuntimeError):
    """The archive (database, WARC files or logs beside it) cannot be written."""


def describe(exc: BaseException, db_path) -> str | None:
    """'cannot write the archive at …: <why>' for a storage failure, else None."""
    why = None
    if isinstance(exc, OSError):
        why = _ERRNO.get(exc.errno)
    elif isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        why = next((reason for marker, reason in _SQLITE if marker in text), None)
    return f"cannot write the archive at {db_path}: {why} ({exc})" if why else None


class StorageGuard:
    """Close the spider at the first item the archive could not store, keeping the reason in the stats."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.db_path = crawler.settings.get("QSNEWS_DB")
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def item_error(self, item, response, spider, failure):
        message = describe(failure.value, self.db_path)
        if message is None or self.crawler.stats.get_value(STAT):
            return
        self.crawler.stats.set_value(STAT, message)
        logger.error("%s; stopping the crawl", message)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="archive_unwritable"))


def raise_if_failed(crawlers) -> None:
    """After the crawl process stops: ArchiveUnwritable if any crawler could not store its items."""
    for crawler in crawlers:
        message = crawler.stats.get_value(STAT)
        if message:
            raise ArchiveUnwritable(message)
