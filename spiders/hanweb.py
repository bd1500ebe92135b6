"""Hanweb 大汉 JCMS sites (Jiangsu, Zhejiang, Shandong, Jiangxi bureaus and many prefectures).

A column page ``/col/colN/index.html`` carries its list as XML inside a script,
``<datastore><recordset><record><![CDATA[<li><a …>…</a><span>date</span></li>]]>
</record>…``, usually the first group of pages (``perPage`` × ``groupSize``
records).  The jpage script next to it names the rest: ``totalRecord``,
``perPage``, ``proxyUrl: '/module/web/jpage/dataproxy.jsp'`` and ``ajaxParam``
(col, appid, webid, path, columnid, sourceContentType, unitid, webname,
permissiontype).  Further records come from a POST to the proxy with
``startrecord/endrecord/perpage`` in the query string and those fields as the
form; the answer is the same datastore XML with ``<totalrecord>``.  Pages
without the script offer a GET form instead, the link inside ``<nextgroup>``.
Articles are ``/art/YYYY/M/D/art_COL_ID.html`` with the body in ``div#zoom``.

Links are read from the records only: the rest of a column page is site
chrome (other columns, sidebars), which is why this family is navigated by
its datastore and not by the page's anchors.
"""
from __future__ import annotations

import re
import sys
from urllib.parse import parse_qsl, urlencode, urlsplit

from scrapy.http import HtmlResponse

from spiders.base import Link, Post, QsnewsSpider, links

ARTICLE = re.compile(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.html$")
RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.S)
NEXTGROUP = re.compile(r"<nextgroup>\s*<!\[CDATA\[.*?href=[\"']([^\"']+)[\"']", re.S)
TOTAL = re.compile(r"<totalrecord>\s*(\d+)\s*</totalrecord>|\btotalRecord\s*:\s*['\"]?(\d+)")
JPAGE = re.compile(r"\.jpage\(\s*\{(.*?)\}\s*\)", re.S)
AJAX_PARAM = re.compile(r"ajaxParam\s*:\s*\{(.*?)\}", re.S)
PAIR = re.compile(r"""["']?(\w+)["']?\s*:\s*(?:"([^"]*)"|'([^']*)'|([^,}\s]+))""")
COLUMN = re.compile(r"/col/col(\d+)/")
PROXY = "/module/web/jpage/dataproxy.jsp"
CONTAINER = "//div[@id='zoom']"


def records(response) -> list[str]:
    """The HTML fragments of the page's datastore records, in list order."""
    return RECORD.findall(response.text)


def article_links(response) -> list[Link]:
    found = records(response)
    if not found:
        return []
    listing = HtmlResponse(url=response.url, body="<ul>" + "".join(found) + "</ul>", encoding="utf-8")
    return links(listing, ARTICLE)


def _setting(config: str, name: str, default: int) -> int:
    match = re.search(rf"\b{name}\s*:\s*['\"]?(\d+)", config)
    return int(match[1]) if match else default


def _pairs(text: str) -> dict:
    return {m[1]: next(v for v in m.groups()[1:] if v is not None) for m in PAIR.finditer(text)}


def jpage(response, columns=()) -> dict | None:
    """The paging set-up of the column page's jpage unit: the one for ``columns`` (or the column in
    the URL) when the page has several, else the first.  None when the page has no jpage script."""
    wanted = set(map(str, columns))
    own = COLUMN.search(urlsplit(response.url).path)
    wanted |= {own[1]} if own else set()
    units = []
    for match in JPAGE.finditer(response.text):
        config = match[1]
        param = AJAX_PARAM.search(config)
        form = _pairs(param[1]) if param else {}
        proxy = re.search(r"proxyUrl\s*:\s*['\"]([^'\"]+)", config)
        units.append({"form": form, "proxy": proxy[1] if proxy else PROXY, "per_page": _setting(config, "perPage", 15),
                      "group": _setting(config, "groupSize", 3), "total": _setting(config, "totalRecord", 0)})
    chosen = [u for u in units if u["form"].get("columnid") in wanted] or units
    return chosen[0] if chosen else None


def proxy_post(response, proxy: str, start: int, per_page: int, group: int, form: dict) -> Post:
    query = urlencode({"startrecord": start, "endrecord": start + per_page * group - 1, "perpage": per_page})
    return Post(response.urljoin(f"{proxy}?{query}"), form)


def list_pages(response, full: bool, columns=()) -> list[str | Post]:
    """The next group of records (every group at once on a full crawl, from the column page)."""
    query = dict(parse_qsl(urlsplit(response.url).query))
    if "startrecord" in query and response.request is not None and response.request.method == "POST":
        return _next_post(response, query)
    unit = jpage(response, columns)
    if unit and unit["form"]:
        total = unit["total"] or _total(response)
        step = unit["per_page"] * unit["group"]
        starts = range(len(records(response)) + 1, total + 1, step)
        starts = starts if full else starts[:1]
        return [proxy_post(response, unit["proxy"], s, unit["per_page"], unit["group"], unit["form"]) for s in starts]
    nextgroup = NEXTGROUP.search(response.text)
    return [response.urljoin(nextgroup[1].replace("&amp;", "&"))] if nextgroup else []


def _total(response) -> int:
    match = TOTAL.search(response.text)
    return int(match[1] or match[2]) if match else 0


def _next_post(response, query: dict) -> list[Post]:
    """After a proxy answer: the following group, posted with the same form, while records remain."""
    try:
        start, end, per_page = int(query["startrecord"]), int(query["endrecord"]), int(query.get("perpage") or 15)
    except (KeyError, ValueError):
        return []
    if end >= _total(response) or not records(response):
        return []
    form = dict(parse_qsl((response.request.body or b"").decode("utf-8")))
    path = urlsplit(response.url).path
    return [proxy_post(response, path, end + 1, per_page, max((end - start + 1) // per_page, 1), form)]


def continuation_pages(response) -> list[str]:
    return []  # Hanweb articles are single pages


class HanwebSpider(QsnewsSpider):
    name = "hanweb"
    family = "hanweb"
    hooks = sys.modules[__name__]

    def list_pages(self, response) -> list[str | Post]:
        """Registry entries name their columns (``columnids``): the jpage unit of those is paged."""
        return self.hooks.list_pages(response, self.full, self.source.extra.get("columnids", ()))

