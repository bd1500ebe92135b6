"""Repeated paragraphs inside one article.

Mirrors and careless CMS templates print an article's text twice (seed 001
repeats its whole body), sometimes once in each script or with different
punctuation widths.  The first occurrence stays; later ones become
``duplicate`` with a pointer to the paragraph they repeat, so the body reads
once and nothing is silently lost.
"""
from __future__ import annotations

from .document import Document
from .script import compact

_KINDS = ("body", "heading")  # what is compared; captions and furniture may legitimately repeat


def mark_repeats(doc: Document) -> Document:
    """Mark every later copy of a body or heading paragraph as ``duplicate`` of the first.

    Copies are compared by ``script.compact``: equal after whitespace removal,
    NFKC (punctuation width) and t2s (script).
    """
    first_seen: dict[str, int] = {}
    out = []
    for position, paragraph in enumerate(doc.paragraphs):
        key = compact(paragraph.text) if paragraph.kind in _KINDS else ""
        if key and key in first_seen:
            out.append(paragraph.mark("duplicate", f"repeat of paragraph {first_seen[key]}"))
            continue
        if key:
            first_seen[key] = position
        out.append(paragraph)
    return doc.with_paragraphs(out)
