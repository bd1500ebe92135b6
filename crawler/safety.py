"""Where the crawler may go: public http(s) addresses only.

A crawled page, or a redirect it answers with, must not steer the crawler to
``file:``/``ftp:``/``data:`` URLs, to this machine (loopback, ``localhost``)
or into the operator's network (RFC 1918 private, link-local such as the
169.254.169.254 cloud metadata service, unique-local IPv6, CGNAT …).
``SafetyMiddleware`` checks every request as it enters the downloader
(start URLs, links, and redirects, which come back as new requests).
``RedirectGuard`` and ``RefreshGuard`` refuse an unsafe or off-site redirect
where it is received, so the page that redirected is recorded in ``pages``
with the reason (Scrapy's offsite filter drops a redirected request without
a word).  ``allowed_domains`` keeps a crawl on its own site; these guards
also cover start URLs and ad-hoc ``--url`` crawls, whose only allowed domain
is the address given.  ``SafeRedirectHandler`` applies the same rule to
``qsnews extract URL``.

Judged from the URL: literal IP addresses (IPv4, IPv6, and the
integer/octal/hex spellings browsers and resolvers accept) and the names
``localhost``/``*.localhost``.  Then ``ResolvedAddressGuard`` resolves an
ordinary host name through the reactor's caching resolver (the one the
download handler asks next, so the connection goes to the address judged)
and refuses a name whose answer is loopback or private: an intranet name
under an allowed domain, or a DNS-rebinding page.  A name that does not
resolve is left to the download to fail with its own error; requests sent
through a proxy are not resolved here (the proxy resolves them).

The demo and the tests talk to loopback servers through
``QSNEWS_HOST_MAP`` (crawler.middlewares.HostMapMiddleware): those requests
keep the real host name in their URL, so they pass without any exception;
``QSNEWS_ALLOW_LOOPBACK = True`` is for a test that crawls a loopback URL
directly.  Private networks are never allowed.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import urllib.error
import urllib.request
from urllib.parse import urljoin, urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.response import get_meta_refresh
from scrapy.utils.url import url_is_from_any_domain

logger = logging.getLogger(__name__)

SCHEMES = ("http", "https")


def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a literal host stands for, or None for a name.

    ``inet_aton`` accepts what resolvers accept (``2130706433``, ``0x7f.1``,
    ``0177.0.0.1``), so those spellings of 127.0.0.1 are recognised too.
    """
    host = host.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or not all(part.isalnum() for part in host.split(".")):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _loopback(address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def _internal(address) -> bool:
    """Private, link-local, reserved, unspecified or multicast: never a public news site."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return (address.is_private or address.is_link_local or address.is_reserved or address.is_unspecified
            or address.is_multicast or (address.version == 4 and address in ipaddress.ip_network("100.64.0.0/10")))


def _host(url: str) -> str:
    """The URL's host as resolvers see it: lower case, without the root's trailing dot."""
    return (urlsplit(url).hostname or "").rstrip(".").lower()


def refusal(url: str, allow_loopback: bool = False) -> str | None:
    """Why the crawler must not fetch ``url``, or None when it may."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        return f"refused {scheme or 'scheme-less'} URL: only http(s) is crawled"
    host = _host(url)
    if not host:
        return "refused URL without a host"
    if host == "localhost" or host.endswith(".localhost"):
        return None if allow_loopback else f"refused loopback address {host}"
    address = parse_ip(host)
    return None if address is None else address_refusal(address, host, allow_loopback)


def address_refusal(address, host: str, allow_loopback: bool = False) -> str | None:
    """Why the crawler must not connect to ``address`` (what ``host`` is or resolves to), or None."""
    if _loopback(address):
        return None if allow_loopback else f"refused loopback address {host}"
    if _internal(address):
        return f"refused private or link-local address {host}"
    return None


class SafetyMiddleware:
    """Downloader middleware: a request ``refusal`` objects to fails with IgnoreRequest (a 'skipped' page)."""

    def __init__(self, allow_loopback: bool = False):
        self.allow_loopback = allow_loopback

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getbool("QSNEWS_ALLOW_LOOPBACK"))

    def process_request(self, request, spider=None):
        reason = refusal(request.url, self.allow_loopback)
        if reason is None:
            return None
        came_from = (request.meta.get("redirect_urls") or [None])[0]
        if came_from:
            reason = f"{reason} (redirected from {came_from})"
        logger.warning("%s: %s", request.url, reason)
        raise IgnoreRequest(reason)


class ResolvedAddressGuard:
    """Downloader middleware: a host name that resolves to loopback or a private address fails with IgnoreRequest.

    Literal addresses were judged by ``SafetyMiddleware``; the hosts of ``QSNEWS_HOST_MAP`` are served
    by a loopback server on purpose (demo, tests), and proxied requests are resolved by their proxy.
    """

    def __init__(self, allow_loopback: bool = False, mapped_hosts=()):
        self.allow_loopback = allow_loopback
        self.mapped_hosts = frozenset(mapped_hosts)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getbool("QSNEWS_ALLOW_LOOPBACK"), crawler.settings.getdict("QSNEWS_HOST_MAP"))

    async def process_request(self, request, spider=None):
        host = _host(request.url)
        if not host or parse_ip(host) is not None or host in self.mapped_hosts or request.meta.get("proxy"):
            return None
        from twisted.internet import reactor

        try:
            answer = await maybe_deferred_to_future(reactor.resolve(host))
        except Exception:  # noqa: BLE001 - unresolvable: the download reports it
            return None
        reason = address_refusal(ipaddress.ip_address(answer), f"{host} ({answer})", self.allow_loopback)
        if reason:
            logger.warning("%s: %s", request.url, reason)
            raise IgnoreRequest(reason)
        return None


class RedirectGuard:
    """Refuse a redirect where it is received, so the page that redirected is recorded with the reason.

    Left to Scrapy, a redirect off the source's domains is dropped by the
    offsite filter when it is scheduled, without calling the spider's
    errback, and a ``file:`` Location comes back as a bare 'HTTP 302': either
    way ``pages`` would not say what happened.  Raising IgnoreRequest from
    ``process_response`` fails the *original* request instead (outcome
    'skipped', reason naming the target).  Runs before RedirectMiddleware
    (priority 600) reads the Location header; ``RefreshGuard`` does the same
    for meta refreshes, after decompression (590) and the challenge check
    (585, a challenge's refresh is a block, not a redirect) and before
    MetaRefreshMiddleware (580).
    """

    def __init__(self, crawler, allow_loopback: bool = False):
        self.crawler = crawler
        self.allow_loopback = allow_loopback

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler, crawler.settings.getbool("QSNEWS_ALLOW_LOOPBACK"))

    def target(self, request, response) -> str | None:
        location = response.headers.get(b"Location")
        if response.status in (301, 302, 303, 307, 308) and location:
            return urljoin(request.url, location.decode("latin-1").strip())
        return None

    def process_response(self, request, response, spider=None):
        if request.meta.get("dont_redirect"):
            return response
        target = self.target(request, response)
        if target is None:
            return response
        reason = refusal(target, self.allow_loopback) or self.offsite(target)
        if reason:
            logger.warning("%s redirects to %s: %s", request.url, target, reason)
            raise IgnoreRequest(f"redirect to {target} {reason}")
        return response

    def offsite(self, url: str) -> str | None:
        domains = [d for d in getattr(self.crawler.spider, "allowed_domains", None) or [] if d]
        if domains and not url_is_from_any_domain(url, domains):
            return "refused: off the source's domains"
        return None


class RefreshGuard(RedirectGuard):
    """``RedirectGuard`` for ``<meta http-equiv="refresh">`` pages."""

    def target(self, request, response) -> str | None:
        if not isinstance(response, HtmlResponse):
            return None
        _, url = get_meta_refresh(response)
        return url


class SafeRedirectHandler(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling (``qsnews extract URL``) with the same rule for where a redirect may lead.

    The URL a person typed is theirs to choose; where the site sends them next is not.
    """

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        reason = refusal(newurl)
        if reason:
            raise urllib.error.HTTPError(req.full_url, code, f"redirect {reason}: {newurl}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)
