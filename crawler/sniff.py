"""A response that says text/html but is binary (an image, a PDF, noise) is not a page.

Sites mislabel downloads and error handlers serve images as text/html.
Scrapy trusts the header and builds an HtmlResponse; decoded as GB18030,
random bytes become plausible-looking "Chinese" and a few get archived as
garbled articles.  Like a browser's MIME sniffing, the body's first bytes
decide: a known binary signature, or control characters no text page
contains, turn the response into a plain ``Response``, which the spiders
record as 'skipped: not an HTML page'.  NUL bytes alone do not count: pages
with stray NULs (and UTF-16 without a BOM) are text (crawler.encoding).
"""
from __future__ import annotations

from scrapy.http import Response, TextResponse

SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"%PDF-", b"PK\x03\x04",
              b"\x1f\x8b", b"BM", b"RIFF", b"\xd0\xcf\x11\xe0", b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x00\x00\x01\x00")
CONTROL = frozenset(range(0x01, 0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B}
_CONTROL_BYTES = bytes(sorted(CONTROL))
SAMPLE = 4096
MAX_CONTROL_SHARE = 0.02


def binary_reason(body: bytes) -> str | None:
    """Why ``body`` is not text, or None."""
    head = body[:SAMPLE]
    for signature in SIGNATURES:
        if head.startswith(signature):
            return f"binary content ({signature[:4]!r} signature)"
    if head and _control_count(head) > MAX_CONTROL_SHARE * len(head):
        return "binary content (control bytes)"
    return None


def _control_count(data: bytes) -> int:
    """How many bytes of ``data`` are CONTROL bytes (deleting them is one C pass, counting in Python is not)."""
    return len(data) - len(data.translate(None, _CONTROL_BYTES))


class BinarySniffMiddleware:
    """Downloader middleware: a binary body is never an HtmlResponse, whatever its Content-Type says."""

    def process_response(self, request, response, spider=None):
        if isinstance(response, TextResponse) and binary_reason(response.body):
            return Response(response.url, status=response.status, headers=response.headers, body=response.body,
                            flags=response.flags, request=request, certificate=response.certificate,
                            ip_address=response.ip_address, protocol=response.protocol)
        return response
