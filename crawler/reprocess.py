"""`qsnews reprocess`: rebuild every article from the raw pages in the WARC files, with no network.

Cleaning improves; the raw pages stay.  Each archived article page (and the
continuation pages the spider joined to it, recorded as "page N of URL") is
read back from its WARC record, joined the way the spider joined it, and run
through today's cleaning chain.  What navigation alone knew (the list page's
date) is not in the WARC: an article whose only date came from its list page
loses that date here.
"""
from __future__ import annotations

import re
from collections import defaultdict

from archive.raw import read_raw
from archive.store import Archive
from crawler.crawl import spider_class
from crawler.progress import ProgressLine
from pipelines.chain import extract_html
from pipelines.scrapy_adapter import learned_template, source_context
from spiders.base import join_pages

PART = re.compile(r"^page (\d+) of (.+)$")


def _articles(pages: list[dict]):
    """(first page, [continuation pages in order]) per article URL."""
    firsts, parts = {}, defaultdict(list)
    for page in pages:
        match = PART.match(page.get("reason") or "")
        if match:
            parts[match.group(2)].append((int(match.group(1)), page))
        else:
            firsts[page["url"]] = page
    for url, first in firsts.items():
        yield first, [page for _, page in sorted(parts.get(url, []), key=lambda part: part[0])]


def _container(page: dict, cms: str | None) -> str | None:
    """The XPath the spider used to join this source's pages (None: the whole body)."""
    return getattr(spider_class(cms or "generic").hooks, "CONTAINER", None)


def _fragment(html: str, container: str | None) -> str:
    from parsel import Selector

    selector = Selector(text=html)
    return (selector.xpath(container).get() if container else None) or selector.xpath("//body").get() or ""


def reprocess(db_path) -> dict:
    """Re-clean every archived article from its raw pages; returns counts by outcome."""
    counts = {"new": 0, "updated": 0, "unchanged": 0, "errors": 0}
    progress = ProgressLine("reprocess", "articles")
    with Archive(db_path) as archive:
        articles = list(_articles(archive.article_pages()))
        contexts = {}  # per source, learned before any article is re-cleaned
        for first, _ in articles:
            if first["source_name"] not in contexts:
                contexts[first["source_name"]] = {
                    **source_context({"name": first["source_name"], "kind": first["source_kind"],
                                      "level": first["source_level"], "region_code": first["source_region_code"]}),
                    "template": learned_template(archive, first["source_name"])}
        for done, (first, parts) in enumerate(articles):
            progress.update(done, left=len(articles) - done, fields=counts)
            try:
                container = _container(first, first["source_cms"])
                html = join_pages(read_raw(db_path, first),
                                  [_fragment(read_raw(db_path, part), container) for part in parts], container)
                record = extract_html(html, url=first["url"], source=contexts[first["source_name"]])
                _, status = archive.upsert_article(record, first["source_id"], first["fetched_at"])
            except Exception as exc:  # one unreadable record never stops the rest
                counts["errors"] += 1
                print(f"reprocess: {first['url']}: {type(exc).__name__}: {exc}")
                continue
            counts[status] += 1
    progress.close()
    return counts
