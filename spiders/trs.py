"""TRS WCM sites (most provincial and prefecture bureaus).

Lists are ``index.html``, ``index_1.html`` … announced by a script call,
``createPageHTML(N, i, "index", "html")`` or ``createPageHTML('page_div', N, i,
'index', 'html', total)``; articles live at ``./YYYYMM/tYYYYMMDD_ID.html``
(or ``.shtml``) and a long article continues on ``tYYYYMMDD_ID_1.html`` …,
announced by the same call inside the article page.  The body sits in
``div.TRS_Editor``: the continuation pages' containers are appended to the
first page's, so the article is one ArticleItem with the first page's URL.
"""
from __future__ import annotations

import re
import sys

from spiders.base import Link, QsnewsSpider, links

ARTICLE = re.compile(r"/\d{6}/t\d{8}_\d+\.s?html$")
PAGER = re.compile(
    r"""createPageHTML\(\s*(?:["'][^"']*["']\s*,\s*)?(\d+)\s*,\s*(\d+)\s*,\s*["']([\w.-]+)["']\s*,\s*["'](\w+)["']""")
CONTINUATION = re.compile(r"(t\d{8}_\d+)_(\d+)\.s?html$")
CONTAINER = "//div[contains(concat(' ', normalize-space(@class), ' '), ' TRS_Editor ')]"


def pager(response) -> tuple[int, int, str, str] | None:
    """(page count, current page 0-based, file stem, extension) from the page's createPageHTML call."""
    match = PAGER.search(response.text)
    return (int(match[1]), int(match[2]), match[3], match[4]) if match else None


def page_url(response, stem: str, ext: str, index: int) -> str:
    return response.urljoin(f"{stem}_{index}.{ext}" if index else f"{stem}.{ext}")


def article_links(response) -> list[Link]:
    return links(response, ARTICLE)


def list_pages(response, full: bool) -> list[str]:
    """The next list page; every page at once on a full crawl (they are all known from page 1)."""
    found = pager(response)
    if not found:
        return []
    count, current, stem, ext = found
    wanted = range(count) if full else range(current + 1, min(current + 2, count))
    return [page_url(response, stem, ext, i) for i in wanted if i != current]


def continuation_pages(response) -> list[str]:
    """Pages 2..N of an article, when this is its first page."""
    found = pager(response)
    if found:
        count, current, stem, ext = found
        return [page_url(response, stem, ext, i) for i in range(1, count)] if current == 0 else []
    own = re.search(r"(t\d{8}_\d+)\.s?html$", response.url)
    parts = {link.url for link in links(response, CONTINUATION)
             if own and CONTINUATION.search(link.url)[1] == own[1]}
    return sorted(parts, key=lambda url: int(CONTINUATION.search(url)[2]))


class TrsSpider(QsnewsSpider):
    name = "trs"
    family = "trs"
    hooks = sys.modules[__name__]
