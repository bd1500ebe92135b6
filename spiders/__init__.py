"""Spiders: navigation only, one module per CMS family, all built on spiders.base.

``detect_family`` tells the families apart from a fetched page;
``detect_family_from_url`` is the guess made before anything is fetched (the
generic spider then looks at the first page itself and switches to TRS or
portal navigation when it recognises one).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

TRS_MARKS = re.compile(r"createPageHTML\s*\(|class=[\"']?TRS_Editor|/\d{6}/t\d{8}_\d+\.s?html")
HANWEB_MARKS = re.compile(r"dataproxy\.jsp|<datastore>|/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.html|hanweb", re.I)
PORTAL_LIST = re.compile(r"/node_\d+(?:_\d+)?\.htm$")
PORTAL_MARKS = re.compile(r"node_\d+(?:_\d+)?\.htm")
PORTAL_ARTICLE = re.compile(r"/content/\d{4}-\d{2}/\d{2}/content_\d+\.htm")


def detect_family(html: str, url: str = "") -> str:
    """'trs', 'hanweb', 'portal' or 'generic' for a list page."""
    if TRS_MARKS.search(html):
        return "trs"
    if HANWEB_MARKS.search(html):
        return "hanweb"
    if PORTAL_LIST.search(urlsplit(url).path) or (PORTAL_ARTICLE.search(html) and PORTAL_MARKS.search(html)):
        return "portal"
    return "generic"


def detect_family_from_url(url: str) -> str:
    """The family a list page's URL alone reveals; 'generic' when it does not say."""
    path = urlsplit(url).path
    if PORTAL_LIST.search(path):
        return "portal"
    if re.search(r"/col/col\d+/|/art/\d{4}/", path):
        return "hanweb"
    return "generic"
