"""Any other site: articles recognised by the shape of their links.

A link is an article when its URL looks like one (a date in the path, a long
numeric or hex id, ``content_N``, ``?id=N`` …) and the page presents it like
one (a headline-length anchor text or a date beside it).  Paging follows
next-page links only.  For an unregistered list page (``url=``) the first page
is examined with ``spiders.detect_family``: a TRS, Hanweb or portal site is
then navigated with that family's rules.
"""
from __future__ import annotations

import importlib
import re
import sys
from urllib.parse import urlsplit

from scrapy.http import TextResponse

from spiders import detect_family
from spiders.base import ATTACHMENT, Link, QsnewsSpider, links, next_links, requested_url

ARTICLE_SHAPE = re.compile(
    r"/(?:19|20)\d{2}[-/_]?\d{2}[-/_]?\d{2}/|/(?:19|20)\d{2}/\d{4}/|/t\d{8}_\d+|content_\d+|/art/(?:19|20)\d{2}/"
    r"|/(?:article|detail|show|view)s?[/_-]|[?&](?:id|aid|articleid|newsid)=\d+|/\d{5,}\.s?html?$|/[0-9a-f]{8,}\.s?html?$",
    re.I)
LIST_SHAPE = re.compile(r"(?:index|list|node)_\d+\.s?html?$|[?&]page=\d+", re.I)
HEADLINE = 8  # characters of anchor text that make a link read like a headline
CONTAINER = None


def article_links(response) -> list[Link]:
    found = []
    for link in links(response):
        parts = urlsplit(link.url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        if ATTACHMENT.search(parts.path) or LIST_SHAPE.search(target) or not ARTICLE_SHAPE.search(target):
            continue
        if len(link.title) >= HEADLINE or link.date:
            found.append(link)
    return found


def list_pages(response, full: bool) -> list[str]:
    more = [link.url for link in links(response) if LIST_SHAPE.search(link.url)] if full else []
    return list(dict.fromkeys(next_links(response) + more))


def continuation_pages(response) -> list[str]:
    return []


class GenericSpider(QsnewsSpider):
    name = "generic"
    family = "generic"
    hooks = sys.modules[__name__]

    def parse_list(self, response):
        if self.adhoc and isinstance(response, TextResponse) and requested_url(response) in self.start_urls:
            family = detect_family(response.text, response.url)
            hooks = {"trs": "spiders.trs", "hanweb": "spiders.hanweb", "portal": "spiders.portal"}.get(family)
            if hooks:
                self.logger.info("%s looks like a %s site: navigating it as one", response.url, family)
                self.hooks = importlib.import_module(hooks)
        yield from super().parse_list(response)
