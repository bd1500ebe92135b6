"""Run spiders in one Scrapy process against the archive: the Python API behind `qsnews crawl`."""
from __future__ import annotations

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


def crawl(
    db_path: str | Path,
    sources: list[registry.Source] = (),
    *,
    url: str | None = None,
    registry_path: str | Path = registry.REGISTRY,
    refresh: bool = False,
    full: bool = False,
    settings: dict | None = None,
) -> int:
    """Crawl registered ``sources`` (or one unregistered list page ``url``) into the archive.

    Returns the last ``crawl_runs`` id before this call, so the caller can
    report on exactly the runs it wrote.  Runs in-process: call once per process.
    """
    from archive.store import Archive

    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    archive = Archive(db_path)
    known = set() if refresh else archive.known_article_urls()
    from archive.health import last_run_id

    first_run_id = last_run_id(db_path)
    process = CrawlerProcess(project_settings(db_path, **(settings or {})))
    common = {"known_urls": known, "refresh": refresh, "full": full, "registry": str(registry_path)}
    if url:
        from spiders import detect_family_from_url

        process.crawl(spider_class(detect_family_from_url(url)), url=url, **common)
    for source in sources:
        process.crawl(spider_class(source.cms), source=source.name, **common)
    process.start()
    return first_run_id
