"""News portals built on the 'node' CMS family (中国质量新闻网 and many newspaper sites).

Lists are ``node_N.htm`` continued on ``node_N_2.htm`` … through plain
next-page links; articles are ``/content/YYYY-MM/DD/content_NNN.htm``.
"""
from __future__ import annotations

import re
import sys

from spiders.base import Link, QsnewsSpider, links, next_links

ARTICLE = re.compile(r"/content/\d{4}-\d{2}/\d{2}/content_\d+\.htm$")
NODE = re.compile(r"/node_(\d+)(?:_\d+)?\.htm$")
CONTAINER = None  # portal articles are single pages


def article_links(response) -> list[Link]:
    return links(response, ARTICLE)


def list_pages(response, full: bool) -> list[str]:
    """The same node's next page (every page of it on a full crawl)."""
    node = NODE.search(response.url)
    if not node:
        return []
    pages = [link.url for link in links(response, NODE)] if full else next_links(response, NODE)
    return [url for url in pages if NODE.search(url)[1] == node[1]]


def continuation_pages(response) -> list[str]:
    return []


class PortalSpider(QsnewsSpider):
    name = "portal"
    family = "portal"
    hooks = sys.modules[__name__]
