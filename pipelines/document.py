"""The in-flight document every cleaning step takes and returns.

Steps are pure: they never mutate their input, they return a new Document
(``dataclasses.replace``).  Paragraph kinds are the public vocabulary of the
``paragraphs`` table; every kind other than ``body`` carries a ``reason``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("body", "heading", "caption", "byline", "meta", "boilerplate", "duplicate", "garbled")


def _replace(obj, **changes):
    """``dataclasses.replace`` for the two classes here, five times faster (the steps copy documents and
    paragraphs all the time): their fields are all plain ``__init__`` fields, with no ``__post_init__``,
    so copying the attributes is what ``__init__`` would do."""
    new = object.__new__(type(obj))
    attributes = vars(new)
    attributes.update(vars(obj))
    attributes.update(changes)
    return new


@dataclass(frozen=True)
class Paragraph:
    text: str
    kind: str = "body"
    reason: str | None = None
    tag: str | None = None  # structural hint from the input: "h2", "li", "figcaption", "td" …
    link_density: float = 0.0  # share of the text inside <a>, from the HTML stage

    def mark(self, kind: str, reason: str) -> "Paragraph":
        return _replace(self, kind=kind, reason=reason)


@dataclass(frozen=True)
class Document:
    """One page on its way to an ``articles`` record.

    ``page_meta`` holds what the HTML stage read outside the body (``<title>``,
    ``<meta name=PubDate>`` …, keys lower-cased); ``hints`` what navigation knew
    (``list_title``, ``list_date`` from the list page); ``source`` the registry
    entry (name, kind, level, province, prefecture, county, region_code).
    ``meta`` accumulates the extracted ``articles`` columns.
    """

    url: str | None = None
    html: str | None = None
    paragraphs: tuple[Paragraph, ...] = ()
    page_meta: dict = field(default_factory=dict)
    hints: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    flags: tuple[str, ...] = ()

    def with_paragraphs(self, paragraphs) -> "Document":
        return _replace(self, paragraphs=tuple(paragraphs))

    def with_meta(self, **values) -> "Document":
        return _replace(self, meta={**self.meta, **values})

    def with_flag(self, *flags: str) -> "Document":
        new = tuple(f for f in flags if f not in self.flags)
        return _replace(self, flags=self.flags + new) if new else self

    def body(self) -> list[Paragraph]:
        return [p for p in self.paragraphs if p.kind == "body"]
