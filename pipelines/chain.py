"""The cleaning chain: a Document in, an ``articles`` record (plus paragraphs) out.

Order matters and is fixed here: annotations go before anything reads text;
furniture is marked before mojibake repair so link lists are not "repaired";
metadata lines leave before the structure steps so they are not taken for
headings; lines are rejoined before captions and headings are told apart
(a broken sentence's tail is not a caption); repeats are found last, on the
final paragraph positions, and the derived title falls back on the body as
it finally stands.  The region step (``pipelines.regions``) reads all of it.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace

from . import regions
from .boilerplate import mark_boilerplate
from .dedupe import mark_repeats
from .document import Document
from .layout import mark_captions_and_headings, rejoin_lines
from .maintext import html_to_document
from .metadata import derive_title, extract_metadata
from .mirror import repair_mirror, strip_annotations
from .plaintext import text_to_document
from .script import t2s

STEPS = (
    strip_annotations,
    mark_boilerplate,
    repair_mirror,
    extract_metadata,
    rejoin_lines,
    mark_captions_and_headings,
    mark_repeats,
    derive_title,
    regions.assign_region,
)
META_COLUMNS = ("title", "subtitle", "published_at", "published_raw", "source_name", "author", "editor", "section",
                "province", "prefecture", "county", "region_code")


def clean(doc: Document) -> Document:
    """Run every cleaning step in order."""
    for step in STEPS:
        doc = step(doc)
    return doc


def to_record(doc: Document) -> dict:
    """The ``articles`` row for a cleaned document, with all its paragraphs (dropped ones too)."""
    body_paragraphs = doc.body()
    body = "\n".join(p.text for p in body_paragraphs)
    body_simplified = t2s(body)
    record = {"url": doc.url, "canonical_url": doc.page_meta.get("og:url") or doc.url}
    record.update({column: doc.meta.get(column) for column in META_COLUMNS})
    record.update(
        title_derived=bool(doc.meta.get("title_derived")),
        body=body,
        body_simplified=body_simplified,
        paragraph_count=len(body_paragraphs),
        flags=list(doc.flags),
        content_hash=hashlib.sha256(body_simplified.encode("utf-8")).hexdigest(),
        paragraphs=[{"position": i, "kind": p.kind, "text": p.text, "reason": p.reason}
                    for i, p in enumerate(doc.paragraphs)],
    )
    return record


def _prepared(doc: Document, source: dict | None, hints: dict | None) -> Document:
    return replace(doc, hints=dict(hints or {}), source=dict(source or {}))


def extract_html(html: str, url: str | None = None, source: dict | None = None, hints: dict | None = None) -> dict:
    """HTML page -> cleaned record."""
    return to_record(clean(_prepared(html_to_document(html, url), source, hints)))


def extract_text(text: str, url: str | None = None, source: dict | None = None, hints: dict | None = None) -> dict:
    """Plain article text -> cleaned record."""
    return to_record(clean(_prepared(text_to_document(text, url), source, hints)))
