"""`qsnews extract`: the whole cleaning chain on saved pages, one record per input, in input order."""
from __future__ import annotations

import gzip
import urllib.request
from pathlib import Path

from crawler.encoding import decode_page
from crawler.safety import SafeRedirectHandler
from crawler.settings import USER_AGENT

TEXT_SUFFIXES = (".txt",)


def read_input(spec: str) -> tuple[bytes, str | None, bool]:
    """(bytes, declared charset, is_plain_text) for a path or an http(s) URL."""
    if spec.startswith(("http://", "https://")):
        request = urllib.request.Request(spec, headers={"User-Agent": USER_AGENT})
        opener = urllib.request.build_opener(SafeRedirectHandler)
        with opener.open(request, timeout=30) as response:
            return response.read(), response.headers.get_content_charset(), False
    path = Path(spec)
    data = path.read_bytes()
    name = path.name.lower()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
        name = name[:-3]
    return data, None, name.endswith(TEXT_SUFFIXES)


def extract_one(spec: str, url: str | None = None) -> dict:
    from pipelines.chain import extract_html, extract_text

    data, declared, plain = read_input(spec)
    text, encoding = decode_page(data, declared)
    page_url = url or (spec if spec.startswith(("http://", "https://")) else None)
    record = (extract_text if plain else extract_html)(text, url=page_url)
    return {"input": spec, "encoding": encoding, **record}


def extract_inputs(specs: list[str], url: str | None = None):
    """Yield a record, or {input, error}, per input; one bad input never stops the rest."""
    for spec in specs:
        try:
            yield extract_one(spec, url)
        except Exception as exc:
            yield {"input": spec, "error": f"{type(exc).__name__}: {exc}"}
