"""Plain-text input stage: one article as text lines in, a ``Document`` out.

Used for seed fixtures, mirrors that only give text, and tests.  Each non-empty
line is one paragraph in order; a leading "- " list marker (how the text dumps
write list items) is stripped and remembered as ``tag="li"`` because the
boilerplate step treats list items differently from prose.
"""
from __future__ import annotations

import re

from .document import Document, Paragraph

_LIST_MARKER = re.compile(r"^[-•]\s+|^-$")


def text_to_document(text: str, url: str | None = None) -> Document:
    """Split ``text`` into line paragraphs; blank lines and bare list markers are dropped."""
    if not isinstance(text, str):
        raise ValueError(f"text_to_document needs text, got {type(text).__name__}")
    # Lone surrogates (bytes kept by 'surrogateescape') cannot reach OpenCC or SQLite.
    text = text.encode("utf-8", "replace").decode("utf-8")
    paragraphs = []
    for line in text.splitlines():
        stripped = line.strip().replace("\u3000", " ").strip()
        marker = _LIST_MARKER.match(stripped)
        content = stripped[marker.end():].strip() if marker else stripped
        if content:
            paragraphs.append(Paragraph(content, tag="li" if marker else None))
    return Document(url=url, paragraphs=tuple(paragraphs))
