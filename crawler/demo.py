"""`qsnews demo`: the bundled sample sites, crawled by the real spiders, into an archive."""
from __future__ import annotations

from crawler import registry
from crawler.crawl import crawl
from crawler.demo_server import DemoServer, host_map

# Loopback sample sites answer at once; politeness delays would only slow the demo down.
LOOPBACK_SETTINGS = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "QSNEWS_RETRY_BACKOFF_BASE": 0}


def build_demo_archive(db_path, settings: dict | None = None) -> int:
    """Serve the sample sites on 127.0.0.1, crawl every demo source into ``db_path``.

    Returns the last crawl_runs id before the crawl (see ``crawler.crawl.crawl``).
    """
    sources = registry.load(registry.DEMO_REGISTRY)
    with DemoServer() as port:
        return crawl(
            db_path, sources, registry_path=registry.DEMO_REGISTRY,
            settings={"QSNEWS_HOST_MAP": host_map(port), **LOOPBACK_SETTINGS, **(settings or {})},
        )
