"""What every qsnews spider does, whatever the CMS: navigation only, no cleaning.

A spider crawls one source (a registry entry, or an ad-hoc one built from a
``url`` argument).  List pages yield article requests and further list pages;
article pages yield one ``ArticleItem``; everything else a ``PageItem`` with
an outcome, so the archive can say what happened to every URL.  Guards that
keep a crawl small and polite live here: a page budget (``max_pages``), the
offsite filter, attachments recorded but never downloaded, known articles not
fetched again, articles listed as older than ``since`` not fetched, paging that
stops at the first list page with nothing new (no article at all, every
article known, every article older than ``since``, or a 304 to a conditional
GET; a ``full`` crawl stops only for ``since``), and an error
handler that turns any failure into a PageItem so one broken page never stops
a crawl.

Conditional GET: for a URL the archive holds an ETag or Last-Modified for
(``validators``), list pages are asked If-None-Match / If-Modified-Since
(unless ``full``), and so are pages that were fetched but never became an
article (unless ``refresh``); a 304 list page means nothing new, a 304
article page leaves its archived row as it was.

A family module (spiders.trs, spiders.hanweb, spiders.portal, spiders.generic)
supplies the site-shape knowledge as plain functions, referenced by the
spider's ``hooks``: ``article_links(response) -> [Link]``,
``list_pages(response, full) -> [url | Post]``, ``continuation_pages(response)
-> [url]`` and ``CONTAINER`` (XPath of the article body, used to join a
multi-page article).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import scrapy
from lxml import etree
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.response import get_base_url
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

from crawler.registry import REGISTRY, Source, find
from crawler.items import ArticleItem, PageItem
from crawler.provenance import PAGE_FIELDS
from crawler.middlewares import Blocked

ATTACHMENT = re.compile(r"\.(pdf|docx?|xlsx?|zip|rar|wps)$", re.I)
# ATTACHMENT anywhere: a link whose href (or, for an href without a path, the page's base URL) lacks it
# cannot resolve to an attachment path, since the resolved path ends with the href's last path segment.
ATTACHMENT_ANYWHERE = re.compile(r"\.(pdf|docx?|xlsx?|zip|rar|wps)", re.I)
DATE = re.compile(r"((?:19|20)\d\d)\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})")
SPACE = re.compile(r"\s+")
NEXT = re.compile(r"^(?:下一页|下页|后页|下一頁|next(?: page)?)\s*[>›»]*$|^[>›»]$", re.I)
# string(.) as parsel evaluates it (a compiled XPath called on the node): on a comment or processing
# instruction node it raises ValueError, as the selector-based code before it did.
STRING_VALUE = etree.XPath("string(.)", smart_strings=False)


@dataclass(frozen=True)
class Link:
    """An outgoing link with what the page says next to it."""

    url: str
    title: str
    date: str | None = None

    def hints(self) -> dict:
        return {k: v for k, v in (("list_title", self.title), ("list_date", self.date)) if v}


class Post(NamedTuple):
    """A list page that is asked for by a form POST (Hanweb's dataproxy.jsp)."""

    url: str
    formdata: dict


def links(response, pattern: re.Pattern | None = None) -> list[Link]:
    """Every distinct http(s) link on the page (fragment dropped), with its anchor text and nearby date.

    The anchors are read through lxml itself (``Selector.root``): a list page has hundreds of links, and a
    parsel selector per XPath result per link cost more than the rest of the spider together.
    """
    found: dict[str, Link] = {}
    for a in response.xpath("//a[@href]"):
        anchor = a.root
        url = response.urljoin(anchor.get("href").strip()).split("#")[0]
        if not url.startswith(("http://", "https://")) or url in found:
            continue
        if pattern is not None and not pattern.search(url):
            continue
        text = SPACE.sub(" ", STRING_VALUE(anchor)).strip()
        title = anchor.get("title", "").strip()
        title = title if len(title) > len(text) else text  # lists truncate the text, not the title attribute
        found[url] = Link(url, title, _date_near(anchor))
    return list(found.values())


def next_links(response, pattern: re.Pattern | None = None) -> list[str]:
    """URLs of the page's next-page links ('下一页', 'next', '»' …), optionally of one URL shape."""
    found = []
    for a in response.xpath("//a[@href]"):
        anchor = a.root  # lxml, as in ``links``
        if NEXT.match(SPACE.sub(" ", STRING_VALUE(anchor)).strip()):
            url = response.urljoin(anchor.get("href").strip()).split("#")[0]
            if pattern is None or pattern.search(url):
                found.append(url)
    return list(dict.fromkeys(found))


def _date_near(anchor) -> str | None:
    """The date in the anchor's parent when that holds no other link, else in the (at most two) nodes after it.

    ``anchor`` is an lxml element.  Text nodes among those after it do not count, only element nodes (as when
    this was written with parsel selectors, whose text-node results have no string value to take); nor do
    comments, which once made a whole list page fail.
    """
    parent = anchor.getparent()
    if parent is not None and len(parent.xpath(".//a")) == 1:
        near = [parent]
    else:
        near = [n for n in anchor.xpath("following-sibling::node()[position() <= 2]")
                if isinstance(n, etree._Element) and isinstance(n.tag, str)]  # not text, comments or PIs
    match = DATE.search(" ".join(STRING_VALUE(n) for n in near))
    return f"{match[1]}-{int(match[2]):02d}-{int(match[3]):02d}" if match else None


def may_link_attachments(response) -> bool:
    """False when no link of the page can be an attachment: the cheap test before resolving every link.

    Most article pages link no attachment.  An href's text is in the page source unless it is written
    with character references (&#46;) or split by NULs (dropped before parsing), so a source without
    ATTACHMENT_ANYWHERE, "&#" or NUL settles it unparsed; else the hrefs are read as plain strings from
    the parsed tree (no selector per link, no URL joining).  Anything but an HTML response is left to
    the full scan.
    """
    if not isinstance(response, HtmlResponse):
        return True
    if ATTACHMENT_ANYWHERE.search(get_base_url(response)):
        return True
    text = response.text
    if "&#" not in text and "\x00" not in text and not ATTACHMENT_ANYWHERE.search(text):
        return False
    root = response.selector.root
    return not hasattr(root, "xpath") or any(ATTACHMENT_ANYWHERE.search(href) for href in root.xpath("//a/@href"))


def requested_url(response) -> str:
    """The URL the spider asked for, even after redirects: the one list pages link to and known_urls holds."""
    return (response.meta.get("redirect_urls") or [response.url])[0]


def page_fields(meta: dict) -> dict:
    """The provenance WarcMiddleware put in ``meta['page']`` (empty when nothing was fetched)."""
    page = meta.get("page") or {}
    return {name: page.get(name) for name in PAGE_FIELDS}


def join_pages(html: str, fragments: list[str], container: str | None) -> str:
    """The first page's HTML with later pages' body containers appended inside its own container."""
    if not fragments:
        return html
    from lxml import html as lhtml

    doc = lhtml.document_fromstring(html)
    found = doc.xpath(container) if container else []
    target = found[0] if found else doc.body
    for fragment in fragments:
        target.append(lhtml.fragment_fromstring(fragment, create_parent="div"))
    return lhtml.tostring(doc, encoding="unicode", method="html")


def truthy(value) -> bool:
    return value is True or str(value).strip().lower() in {"1", "true", "yes", "on"}


def load_known(value) -> set[str]:
    """``known_urls`` as the CLI passes it (a set) or from the command line (a file, one URL per line)."""
    if not value:
        return set()
    if isinstance(value, str):
        return {line.strip() for line in Path(value).read_text(encoding="utf-8").splitlines() if line.strip()}
    return set(value)


def adhoc_name(url: str) -> str:
    """The source name of an unregistered list page: its host, with the port when one is given
    (two loopback sites are two sources)."""
    return urlsplit(url).netloc or url


def adhoc_source(url: str, family: str) -> Source:
    """A registry entry for an unregistered list page.  Its place is unknown (region 000000):
    the cleaning chain infers the region from the text."""
    host = urlsplit(url).hostname or url
    return Source(name=adhoc_name(url), kind="bureau", level="province", region_code="000000", cms=family,
                  start_urls=(url,), allowed_domains=(host,), homepage=f"{urlsplit(url).scheme}://{host}/",
                  notes="unregistered: crawled from a list page given on the command line")


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


class QsnewsSpider(scrapy.Spider):
    """Spider arguments (``-a name=value``, or keywords to ``CrawlerProcess.crawl``):

    source      a registry name (or a ``Source``), looked up in ``registry`` (default crawler/sources.toml)
    url         an unregistered list page instead of a source
    known_urls  article URLs already archived (a set, or a file with one URL per line): not requested
                again, and paging stops at a list page that lists only known ones
    refresh     request known articles anyway;  full: page through every list page
    since       an ISO date: articles the list dates earlier are not requested, and paging stops at a
                list page whose dated articles are all earlier
    validators  {url: {etag, last_modified}} from the archive, for conditional GET
    max_pages   requests this run may make (default: the source's max_pages); DEPTH_LIMIT bounds depth
    """

    family = "generic"
    hooks = None  # the family module; set by each subclass

    def __init__(self, source=None, url=None, registry=None, known_urls=None, refresh=False, full=False,
                 max_pages=None, since=None, validators=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(source, str):
            source = find([source], registry or REGISTRY)[0]
        if source is None and not url:
            raise ValueError("give source=<registry name> or url=<list page>")
        self.source = source or adhoc_source(url, self.family)
        self.adhoc = source is None
        self.start_urls = [url] if url else list(self.source.start_urls)
        self.allowed_domains = list(self.source.allowed_domains)
        self.known_urls = load_known(known_urls)
        self.refresh, self.full = truthy(refresh), truthy(full)
        self.since = date.fromisoformat(since).isoformat() if since else None
        self.validators = validators or {}
        self.max_pages = int(max_pages or self.source.max_pages)
        self.requested: set[str] = set()
        self.attachments_seen: set[str] = set()
        self.blocked = False

    @classmethod
    def update_settings(cls, settings):
        """The User-Agent names the contact from QSNEWS_CONTACT, however that setting was given."""
        super().update_settings(settings)
        contact = settings.get("QSNEWS_CONTACT")
        if contact:
            settings.set("USER_AGENT", f"qsnews/0.1 (+{contact})", priority=settings.getpriority("QSNEWS_CONTACT"))

    # ------------------------------------------------------------------ requests
    async def start(self):
        for url in self.start_urls:
            request = self.follow(url, self.parse_list)
            if request is not None:
                yield request

    def on_site(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def follow(self, url: str, callback, formdata: dict | None = None, **meta) -> scrapy.Request | None:
        """A request within the budget, or None (already requested, off site, blocked, budget spent).
        With ``formdata`` it is a form POST."""
        if self.blocked or url in self.requested or not self.on_site(url):
            return None
        if len(self.requested) >= self.max_pages:
            if not self.crawler.stats.get_value("qsnews/budget_exhausted"):
                self.logger.warning("%s: page budget of %d spent, not following %s", self.source.name, self.max_pages, url)
            self.crawler.stats.inc_value("qsnews/budget_exhausted")
            return None
        self.requested.add(url)
        if formdata is not None:
            return scrapy.FormRequest(url, formdata=formdata, callback=callback, errback=self.on_error, meta=meta)
        headers = self.conditional(url, callback)
        if headers:
            meta.update(handle_httpstatus_list=[304], validators=self.validators[url])
        return scrapy.Request(url, callback=callback, errback=self.on_error, meta=meta, headers=headers)

    def conditional(self, url: str, callback) -> dict:
        """If-None-Match / If-Modified-Since for a page the archive has validators for: list pages
        unless ``full``, article pages unless ``refresh`` (known articles are not requested at all)."""
        known = self.validators.get(url)
        wanted = ((callback == self.parse_list and not self.full)
                  or (callback == self.parse_article and not self.refresh))
        if not known or not wanted:
            return {}
        headers = {"If-None-Match": known.get("etag"), "If-Modified-Since": known.get("last_modified")}
        return {name: value for name, value in headers.items() if value}

    # ------------------------------------------------------------------ family hooks
    def article_links(self, response) -> list[Link]:
        return [link for link in self.hooks.article_links(response) if self.on_site(link.url)]

    def list_pages(self, response) -> list[str | Post]:
        return self.hooks.list_pages(response, self.full)

    def continuation_pages(self, response) -> list[str]:
        return self.hooks.continuation_pages(response)

    # ------------------------------------------------------------------ callbacks
    def too_old(self, link: Link) -> bool:
        return bool(self.since and link.date and link.date < self.since)

    def parse_list(self, response):
        if response.status == 304:
            yield self.page_item(response, "list", "not modified since the last crawl (304): nothing new")
            return
        if not isinstance(response, TextResponse):
            yield self.page_item(response, "skipped", "not an HTML page")
            return
        yield self.page_item(response, "list")
        yield from self.attachments(response)
        found = self.article_links(response)
        for link in found:
            if (self.refresh or link.url not in self.known_urls) and not self.too_old(link):
                request = self.follow(link.url, self.parse_article, hints=link.hints())
                if request is not None:
                    yield request
        if not found and not self.full and requested_url(response) not in self.start_urls:
            self.logger.info("%s: no article listed on %s; paging stops", self.source.name, response.url)
            return  # past the last page, or a trap (an endless calendar): nothing to archive further on
        # The list itself is the dated links; undated ones are often page chrome (a sidebar on every page).
        listed = [link for link in found if link.date] or found
        if listed and not self.full and all(link.url in self.known_urls for link in listed):
            self.logger.info("%s: every article listed on %s is known; paging stops", self.source.name, response.url)
            return
        if listed and all(self.too_old(link) for link in listed):
            self.logger.info("%s: every article listed on %s is older than %s; paging stops",
                             self.source.name, response.url, self.since)
            return
        for page in self.list_pages(response):
            url, formdata = page if isinstance(page, Post) else (page, None)
            request = self.follow(url, self.parse_list, formdata)
            if request is not None:
                yield request

    def parse_article(self, response):
        if response.status == 304:  # fetched before without becoming an article, and still the same page
            self.crawler.stats.inc_value("qsnews/not_modified")
            return
        if not isinstance(response, TextResponse):
            yield self.page_item(response, "skipped", "not an HTML page")
            return
        yield from self.attachments(response)
        article = {"url": requested_url(response), "html": response.text, "meta": page_fields(response.meta),
                   "hints": response.meta.get("hints") or {}, "fragments": []}
        yield from self.next_part(article, self.continuation_pages(response))

    def parse_part(self, response):
        article = response.meta["article"]
        yield self.page_item(response, "article", f"page {len(article['fragments']) + 2} of {article['url']}")
        yield from self.attachments(response)
        body = response.xpath(self.hooks.CONTAINER).get() if self.hooks.CONTAINER else None
        article["fragments"].append(body or response.xpath("//body").get() or "")
        yield from self.next_part(article, response.meta["remaining"])

    def next_part(self, article: dict, remaining: list[str]):
        """Fetch the next page of a multi-page article, or yield the assembled ArticleItem."""
        while remaining:
            request = self.follow(remaining[0], self.parse_part, article=article, remaining=remaining[1:])
            if request is not None:
                yield request
                return
            remaining = remaining[1:]
        yield ArticleItem(url=article["url"], source_name=self.source.name, hints=article["hints"],
                          html=join_pages(article["html"], article["fragments"], self.hooks.CONTAINER),
                          **article["meta"])

    def attachments(self, response):
        """Attachment links are recorded, never downloaded."""
        if not may_link_attachments(response):
            return
        for a in response.xpath("//a[@href]"):
            url = response.urljoin(a.attrib["href"].strip()).split("#")[0]
            if ATTACHMENT.search(urlsplit(url).path) and url not in self.attachments_seen:
                self.attachments_seen.add(url)
                text = SPACE.sub(" ", a.xpath("string(.)").get() or "").strip()
                yield PageItem(url=url, source_name=self.source.name, outcome="attachment",
                               reason=f"linked from {response.url}" + (f": {text}" if text else ""))

    def page_item(self, response, outcome: str, reason: str | None = None) -> PageItem:
        fields = page_fields(response.meta)
        if response.status == 304:  # still the page the validators were given for; a 304 may omit them
            for name, value in (response.meta.get("validators") or {}).items():
                if name in fields and not fields[name]:
                    fields[name] = value
        return PageItem(url=requested_url(response), source_name=self.source.name, outcome=outcome, reason=reason,
                        **fields)

    def on_error(self, failure):
        """Any failure becomes a PageItem; a failed continuation page still lets its article through."""
        request, exc = failure.request, failure.value
        outcome = "error"
        if isinstance(exc, Blocked):
            outcome, reason = "blocked", exc.reason
            self.blocked = True
        elif isinstance(exc, HttpError):
            status = exc.response.status
            reason = f"HTTP {status} {_phrase(status)}"
        elif isinstance(exc, IgnoreRequest):
            outcome, reason = "skipped", str(exc) or "request ignored"
        elif isinstance(exc, DNSLookupError):
            reason = f"DNS lookup failed for {urlsplit(request.url).hostname}"
        elif isinstance(exc, (TimeoutError, TCPTimedOutError)):
            reason = "timeout"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        yield PageItem(url=request.url, source_name=self.source.name, outcome=outcome, reason=reason,
                       **page_fields(request.meta))
        if "article" in request.meta:
            yield from self.next_part(request.meta["article"], request.meta["remaining"])
