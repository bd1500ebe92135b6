"""Downloader middlewares: where a request goes, what a response really is, and what we keep of it.

Order matters (see DOWNLOADER_MIDDLEWARES in crawler/settings.py): the WARC
recorder sits next to the downloader so it keeps the bytes as received; the
challenge check runs after decompression but before meta-refresh could follow
a challenge page; the encoding decision runs last, on the real page.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from scrapy import Request, signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler.encoding import decode_page

logger = logging.getLogger(__name__)


class HostMapMiddleware:
    """Send requests for mapped hosts (QSNEWS_HOST_MAP) to a loopback server instead of the network.

    The request keeps its original URL: it goes to the loopback address as an
    HTTP proxy request (absolute URI, original Host header), so robots.txt,
    offsite filtering, per-domain politeness, the WARC record and the item's
    ``url`` all see the real site while the bytes come from the sample sites.
    Robots.txt requests pass through here too, so they are mapped as well.
    Only plain http is mapped: an https URL of a mapped host is refused rather
    than allowed to leak to the network.
    """

    def __init__(self, host_map: dict[str, str]):
        self.host_map = {host.lower(): target for host, target in host_map.items()}

    @classmethod
    def from_crawler(cls, crawler):
        host_map = crawler.settings.getdict("QSNEWS_HOST_MAP")
        if not host_map:
            raise NotConfigured
        return cls(host_map)

    def target(self, request: Request) -> str | None:
        parts = urlparse_cached(request)
        return self.host_map.get(parts.netloc.lower()) or self.host_map.get((parts.hostname or "").lower())

    def process_request(self, request: Request):
        target = self.target(request)
        if target is None:
            return None
        if urlparse_cached(request).scheme != "http":
            raise IgnoreRequest(f"host map serves plain http only, refusing {request.url}")
        request.meta["proxy"] = f"http://{target}"
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _header(headers, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


class WarcMiddleware:
    """Write every response, with its request, to one gzip'd WARC file per run in QSNEWS_WARC_DIR.

    Sets ``meta["page"]`` (warc_file, warc_offset, sha256 of the body as
    received, fetched_at, http_status, content_type, the etag / last_modified
    validators; ``encoding`` is added by EncodingMiddleware) so spiders can
    copy the provenance into their items and anyone can find the exact bytes
    again.  ``warc_file`` is relative to the WARC directory; ``warc_offset``
    is where the response record's gzip member starts.
    """

    def __init__(self, crawler, warc_dir: str):
        self.crawler = crawler
        self.warc_dir = Path(warc_dir)
        self.handle = None
        self.writer = None
        self.name = None
        crawler.signals.connect(self.close, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        warc_dir = crawler.settings.get("QSNEWS_WARC_DIR")
        if not warc_dir:
            raise NotConfigured
        return cls(crawler, warc_dir)

    def _open(self):
        from warcio.warcwriter import WARCWriter

        spider = self.crawler.spider
        source = getattr(spider, "source", None)
        label = spider.name if spider else "qsnews"
        if source is not None:
            host = source.allowed_domains[0] if source.allowed_domains else "source"
            label = f"{host}-{hashlib.sha1(source.name.encode()).hexdigest()[:6]}"
        self.warc_dir.mkdir(parents=True, exist_ok=True)
        self.name = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{label}-{os.getpid()}.warc.gz"
        self.handle = open(self.warc_dir / self.name, "wb")
        self.writer = WARCWriter(self.handle, gzip=True)
        self.writer.write_record(self.writer.create_warcinfo_record(self.name, {
            "software": "qsnews/0.1 (Scrapy, warcio)",
            "http-header-user-agent": self.crawler.settings.get("USER_AGENT"),
        }))

    def process_response(self, request: Request, response):
        if self.writer is None:
            self._open()
        offset, digest, fetched_at = self.record(request, response)
        request.meta["page"] = {
            "warc_file": self.name,
            "warc_offset": offset,
            "sha256": digest,
            "fetched_at": fetched_at,
            "http_status": response.status,
            "content_type": _header(response.headers, b"Content-Type"),
            "encoding": None,
            "etag": _header(response.headers, b"ETag"),
            "last_modified": _header(response.headers, b"Last-Modified"),
        }
        return response

    def record(self, request: Request, response) -> tuple[int, str, str]:
        from warcio.statusandheaders import StatusAndHeaders

        fetched_at = _now()
        body = response.body
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs
                   if k.lower() not in (b"transfer-encoding", b"content-length")]
        headers.append(("Content-Length", str(len(body))))
        status = f"{response.status} {_reason(response.status)}"
        warc_date = {"WARC-Date": fetched_at.replace("+00:00", "Z")}
        # The payload length is given so warcio neither spools the body to a temporary file nor digests it
        # twice (it does both for a payload of unknown length); the record written is the same.
        record = self.writer.create_warc_record(
            request.url, "response", payload=io.BytesIO(body), length=len(body),
            http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
            warc_headers_dict=warc_date,
        )
        offset = self.handle.tell()
        self.writer.write_record(record)
        parts = urlparse_cached(request)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        req_headers = [("Host", parts.netloc)] + [
            (k.decode("latin-1"), v.decode("latin-1")) for k, vs in request.headers.items() for v in vs]
        self.writer.write_record(self.writer.create_warc_record(
            request.url, "request", payload=io.BytesIO(request.body or b""), length=len(request.body or b""),
            http_headers=StatusAndHeaders(f"{request.method} {target} HTTP/1.1", req_headers, is_http_request=True),
            warc_headers_dict={**warc_date, "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID")},
        ))
        self.handle.flush()
        return offset, hashlib.sha256(body).hexdigest(), fetched_at

    def close(self, spider=None):
        if self.handle is not None:
            self.handle.close()
            self.handle = self.writer = None


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", re.I)


class EncodingMiddleware:
    """Decide a text response's encoding from its bytes (crawler.encoding) and record it.

    Scrapy trusts the HTTP header first; Chinese government sites often send a
    wrong or no charset, so the decision is BOM, strict UTF-8, then the
    declared charsets with GB2312/GBK read as GB18030.
    """

    def process_response(self, request: Request, response):
        if not isinstance(response, TextResponse):
            return response
        declared = CHARSET.search(_header(response.headers, b"Content-Type") or "")
        _, encoding = decode_page(response.body, declared.group(1) if declared else None)
        if "page" in request.meta:
            request.meta["page"]["encoding"] = encoding
        return response.replace(encoding=encoding)


class Blocked(IgnoreRequest):
    """The site answered with an anti-bot challenge; the source is blocked for this run."""

    def __init__(self, reason: str, response=None):
        super().__init__(reason)
        self.reason = reason
        self.response = response


RUISHU = re.compile(rb"var\s+\$_ts\s*=|\$_ts\s*=\s*window\[|\$_ts\.(?:nsd|cd)\s*=")
META_REFRESH = re.compile(rb"<meta[^>]+http-equiv\s*=\s*[\"']?refresh", re.I)
JS_COOKIE = re.compile(rb"document\.cookie\s*=", re.I)
WAF_MARKERS = re.compile(rb"__jsl_clearance|YunSuoAutoJump|security_verify_|safedog|waf_cookie|_waf_bd", re.I)
TINY = 4096  # a real article page is never this small once its layout is counted


def challenge_reason(status: int, headers, body: bytes) -> str | None:
    """Why this response is a challenge rather than content, or None if it is content."""
    if status in (412, 403):
        kind = "瑞数 $_ts script" if RUISHU.search(body) else "anti-bot or access denial"
        return f"HTTP {status} challenge ({kind})"
    if status != 200:
        return None
    if RUISHU.search(body):
        return "瑞数 $_ts challenge script on a 200 page"
    if len(body) >= TINY:
        return None
    sets_cookie = bool(headers.getlist(b"Set-Cookie")) or bool(JS_COOKIE.search(body))
    if WAF_MARKERS.search(body) and sets_cookie:
        return "WAF cookie challenge"
    if META_REFRESH.search(body) and sets_cookie:
        return "cookie-setting meta refresh with a near-empty page"
    return None


class ChallengeMiddleware:
    """Recognise challenge pages, never try to pass them, and stop the source.

    A challenge response is turned into a ``Blocked`` failure (the spider's
    errback records a PageItem outcome 'blocked' with the reason); the stat
    ``qsnews/blocked/<source>`` is set; every later request of the same crawl
    (one crawl is one source) fails fast with ``Blocked`` without touching the site.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.blocked: str | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request):
        if self.blocked:
            raise Blocked(f"source blocked earlier in this run: {self.blocked}")
        return None

    def process_response(self, request: Request, response):
        reason = challenge_reason(response.status, response.headers, response.body)
        if reason is None:
            return response
        if not self.blocked:
            self.blocked = reason
            spider = self.crawler.spider
            source = getattr(getattr(spider, "source", None), "name", None) or getattr(spider, "name", "?")
            self.crawler.stats.set_value(f"qsnews/blocked/{source}", reason)
            logger.warning("%s: %s at %s; no further requests to this source", source, reason, request.url)
        raise Blocked(reason, response)


def backoff_delay(retry_times: int, base: float, cap: float, retry_after: str | None = None) -> float:
    """Seconds to wait before retry number ``retry_times`` (1-based); a longer Retry-After wins."""
    delay = base * 2 ** max(retry_times - 1, 0)
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, float(retry_after))
    return min(delay, cap)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry (RETRY_HTTP_CODES: 5xx and 429 only) plus exponential backoff.

    An overloaded bureau server is retried later, not hammered; the wait holds
    only this request, not the crawl.
    """

    @classmethod
    def from_crawler(cls, crawler):
        middleware = super().from_crawler(crawler)
        middleware.base = crawler.settings.getfloat("QSNEWS_RETRY_BACKOFF_BASE")
        middleware.cap = crawler.settings.getfloat("QSNEWS_RETRY_BACKOFF_MAX")
        return middleware

    async def process_response(self, request: Request, response):
        result = super().process_response(request, response)
        if isinstance(result, Request):
            delay = backoff_delay(result.meta.get("retry_times", 1), self.base, self.cap,
                                  _header(response.headers, b"Retry-After"))
            if delay > 0:
                from twisted.internet import reactor  # the running one; importing earlier would install a default
                from twisted.internet.task import deferLater

                await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        return result
