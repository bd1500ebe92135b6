"""Run spiders in one Scrapy process against the archive: the Python API behind `qsnews crawl`."""
from __future__ import annotations

import gc
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import registry


def spider_class(family: str):
    """The spider for a CMS family (spider names are family names); unknown families use the generic one."""
    from scrapy.spiderloader import SpiderLoader

    loader = SpiderLoader.from_settings(project_settings_module())
    return loader.load(family if family in loader.list() else "generic")


def project_settings_module() -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    return settings


def project_settings(db_path: str | Path, **overrides) -> Settings:
    settings = project_settings_module()
    db_path = Path(db_path)
    settings.set("QSNEWS_DB", str(db_path), priority="cmdline")
    settings.set("QSNEWS_WARC_DIR", str(db_path.parent / "warc"), priority="cmdline")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


# The crawl's youngest-generation threshold (Python's default: 700 net allocations of tracked objects).
YOUNG_GC_THRESHOLD = 50_000


def start(process: CrawlerProcess) -> None:
    """``process.start()``, with everything alive by then kept out of the garbage collector's way, the
    collector run less often, and Scrapy's loggers declining what LOG_LEVEL drops (see below).

    What is set up before the crawl (Scrapy, the spiders, the archive's known URLs and validators) lives as
    long as the crawl, yet every full collection the crawl's churn triggers walked all of it again.
    ``gc.freeze`` moves it out of the collector's generations: a 10k-page benchmark crawl took ~6% less
    wall time (BENCHMARKS.md).  What the crawl itself builds up (queued requests, seen fingerprints) was
    still walked by 36 full and ~390 middle collections in a 10k-page crawl: with the young ones, ~4 s of
    the crawl process's ~25 s of CPU.  With ``YOUNG_GC_THRESHOLD`` there are 1 and 3, and the collector
    takes ~1.2-1.7 s, for ~8 MB more memory.  Not off altogether: Scrapy leaves ~6.5 KB of reference
    cycles a page (65 MB more at 10k pages without a collector).  All three are undone afterwards, for a
    caller that goes on in the same process.
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *thresholds[1:])
    scrapy_logger = logging.getLogger("scrapy")
    scrapy_level = scrapy_logger.level
    # Scrapy sets its loggers to DEBUG and leaves LOG_LEVEL to its handler, so every page's "Crawled (200)"
    # and "Scraped from" records were built (caller lookup, LogRecord) only to be dropped: ~1.5% of the
    # crawl process's CPU.  At LOG_LEVEL the logger itself declines them; what is logged stays the same.
    scrapy_logger.setLevel(process.settings.get("LOG_LEVEL") or logging.DEBUG)
    try:
        process.start()
    finally:
        scrapy_logger.setLevel(scrapy_level)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def cooling_down(archive, name: str, hours: float, now: datetime | None = None) -> bool:
    """True while a source marked blocked is within ``hours`` of the run that found it blocked:
    asking again so soon only renews the block (and looks like the bot the site took us for)."""
    blocked_at = archive.last_blocked_at(name)
    if not blocked_at or hours <= 0:
        return False
    when = datetime.fromisoformat(blocked_at)
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return (now or datetime.now(timezone.utc)) - when < timedelta(hours=hours)


def skip_blocked(archive, row: dict) -> None:
    """Record a run that did not happen, so the report and the health view say why."""
    run_id = archive.start_run(archive.upsert_source(row))
    archive.finish_run(run_id, requests=0, new_articles=0, updated_articles=0, errors=0, blocked=0,
                       status="skipped-blocked")


def crawl(
    db_path: str | Path,
    sources: list[registry.Source] = (),
    *,
    url: str | None = None,
    registry_path: str | Path = registry.REGISTRY,
    refresh: bool = False,
    full: bool = False,
    since: str | None = None,
    force: bool = False,
    settings: dict | None = None,
) -> int:
    """Crawl registered ``sources`` (or one unregistered list page ``url``) into the archive.

    ``since`` (ISO date) leaves out articles listed as older.  A source still
    cooling down after a block (QSNEWS_BLOCKED_COOLDOWN_HOURS) is not crawled
    but recorded as a run with status 'skipped-blocked', unless ``force``.
    Returns the last ``crawl_runs`` id before this call, so the caller can
    report on exactly the runs it wrote.  Runs in-process: call once per process.
    """
    from archive.health import last_run_id
    from archive.resume import take_interrupted
    from crawler.storage import raise_if_failed
    from archive.store import Archive
    from spiders import detect_family_from_url
    from spiders.base import adhoc_source

    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    config = project_settings(db_path, **(settings or {}))
    hours = 0 if force else config.getfloat("QSNEWS_BLOCKED_COOLDOWN_HOURS")
    family = detect_family_from_url(url) if url else None
    jobs = [(family, adhoc_source(url, family), {"url": url})] if url else []
    jobs += [(source.cms, source, {"source": source.name}) for source in sources]
    with Archive(db_path) as archive:
        first_run_id = last_run_id(db_path)
        common = {"known_urls": set() if refresh else archive.known_article_urls(), "refresh": refresh,
                  "full": full, "since": since, "validators": archive.page_validators(),
                  "registry": str(registry_path)}
        wanted = []
        for family, source, target in jobs:
            if cooling_down(archive, source.name, hours):
                skip_blocked(archive, source.row())
            else:  # a source whose last run was killed pages through everything again (archive.resume)
                wanted.append((spider_class(family), {**target, "full": full or take_interrupted(archive.conn, source.name)}))
    if wanted:
        process = CrawlerProcess(config)
        for spider, target in wanted:
            process.crawl(spider, **{**common, **target})
        crawlers = list(process.crawlers)
        start(process)
        raise_if_failed(crawlers)  # the archive stopped taking writes: crawler.storage
    return first_run_id
