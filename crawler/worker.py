"""`qsnews crawl` with QSNEWS_REDIS_URL set: a scale-out worker (see crawler.scaleout).

A worker crawls like `qsnews crawl` but never opens the archive: known
articles come from Redis (crawler.known), items go to Redis, and `qsnews
ingest` writes them.  So it takes no archive lock and any number of workers
may run, on one machine or many.  ``--db`` still places the WARC files and
logs (``warc/`` and ``logs/`` beside it): raw pages stay on the worker's disk.
"""
from __future__ import annotations

from pathlib import Path

from scrapy.crawler import CrawlerProcess

from crawler import registry
from crawler.crawl import project_settings, spider_class, start


def work(db_path, redis_url: str, sources: list[registry.Source] = (), *, url: str | None = None,
         registry_path=registry.REGISTRY, refresh: bool = False, full: bool = False,
         settings: dict | None = None) -> int:
    """Run one worker until every crawl it joined is finished; 0 when each ended normally, else 3."""
    from spiders import detect_family_from_url

    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    process = CrawlerProcess(project_settings(db_path, **{**(settings or {}), "QSNEWS_REDIS_URL": redis_url}))
    common = {"refresh": refresh, "full": full, "registry": str(registry_path)}
    crawlers = []
    if url:
        crawlers.append(process.create_crawler(spider_class(detect_family_from_url(url))))
        process.crawl(crawlers[-1], url=url, **common)
    for source in sources:
        crawlers.append(process.create_crawler(spider_class(source.cms)))
        process.crawl(crawlers[-1], source=source.name, **common)
    start(process)
    reasons = [crawler.stats.get_value("finish_reason") for crawler in crawlers]
    return 0 if all(reason == "finished" for reason in reasons) else 3
