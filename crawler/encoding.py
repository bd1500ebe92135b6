"""Decide a page's encoding from its bytes.

Header and ``<meta>`` charsets on Chinese government sites disagree often, so
declarations are only candidates: a BOM wins, then strict UTF-8, then the
declared charsets in order, with GB2312/GBK widened to GB18030 (their superset).
"""
from __future__ import annotations

import codecs
import re

META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
GB_FAMILY = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def normalise_charset(name: str | None) -> str | None:
    """Canonical codec name, or None for a name Python does not know."""
    if not name:
        return None
    name = name.strip().lower()
    if name in GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charsets(body: bytes, header_charset: str | None = None) -> list[str]:
    found = [header_charset] + [m.decode("ascii", "ignore") for m in META_CHARSET.findall(body[:4096])]
    names = [normalise_charset(n) for n in found]
    return list(dict.fromkeys(n for n in names if n))


def decode_page(body: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """(text, encoding used). Never raises: the last resort decodes with replacement."""
    if b"\x00" in body[:1024] and not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        body = body.replace(b"\x00", b"")
    for bom, name in BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(name, errors="replace"), name
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = declared_charsets(body, header_charset) + ["gb18030"]
    for name in dict.fromkeys(c for c in candidates if c != "utf-8"):
        try:
            return body.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("gb18030", errors="replace"), "gb18030"
