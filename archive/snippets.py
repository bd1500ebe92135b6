"""Highlighted snippets in the article's own script.

The FTS index holds simplified bigram text, so FTS5's own ``snippet()`` would
show tokens, not prose.  Instead the match is found again here, in Python, on
a simplified copy of the original text that is *aligned* with it character
for character, and the ``<mark>`` tags are put around the same positions of
the original (traditional or simplified) text.

OpenCC ``t2s`` maps character for character for almost all text; when a
phrase conversion changes the length, the copy falls back to converting one
character at a time, which keeps the alignment at the cost of the rare
phrase-level variant.
"""
from __future__ import annotations

import unicodedata

from markupsafe import Markup, escape

from archive.search import Query, normalise, runs, to_simplified

ELLIPSIS = "…"


def _fold(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    if len(folded) == 1:
        return folded
    lower = ch.lower()
    return lower if len(lower) == 1 else ch


def aligned_simplified(text: str) -> str:
    """A normalised copy of ``text`` with exactly one character per original character."""
    simplified = to_simplified(text)
    if len(simplified) != len(text):
        simplified = "".join(s if len(s := to_simplified(ch)) == 1 else ch for ch in text)
    return "".join(_fold(ch) for ch in simplified)


def needles(query: Query) -> list[str]:
    """The normalised strings to look for: every Han run and word of every positive term."""
    found = {run for term in query.positive_terms() for run in runs(normalise(term))}
    return sorted(found, key=len, reverse=True)


def match_spans(text: str, query: Query) -> list[tuple[int, int]]:
    """Sorted, merged (start, end) spans of ``text`` that match the query's terms."""
    haystack = aligned_simplified(text)
    spans = []
    for needle in needles(query):
        start = haystack.find(needle)
        while start != -1:
            spans.append((start, start + len(needle)))
            start = haystack.find(needle, start + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _marked(text: str, spans: list[tuple[int, int]], offset: int = 0) -> Markup:
    out, at = [], offset
    for start, end in spans:
        out.append(escape(text[at - offset:start - offset]))
        out.append(Markup("<mark>%s</mark>") % text[start - offset:end - offset])
        at = end
    out.append(escape(text[at - offset:]))
    return Markup("").join(out)


def highlight(text: str | None, query: Query) -> Markup:
    """The whole of ``text`` (a title, say), HTML-escaped, with matches in ``<mark>``."""
    text = text or ""
    return _marked(text, match_spans(text, query))


def snippet(text: str | None, query: Query, width: int = 140) -> Markup:
    """About ``width`` characters of ``text`` around its densest cluster of matches.

    Line breaks between paragraphs become `` / `` so a snippet reads as one line.
    Without any match (the hit was in the title) the opening of the text is shown.
    """
    text = (text or "").replace("\n", " / ")
    spans = match_spans(text, query)
    if not spans:
        return escape(text[:width]) + (ELLIPSIS if len(text) > width else "")
    best = max(range(len(spans)), key=lambda i: sum(1 for s in spans[i:] if s[1] <= spans[i][0] + width))
    start = max(0, min(spans[best][0] - width // 4, len(text) - width))
    end = min(len(text), start + width)
    inside = [(max(s, start), min(e, end)) for s, e in spans if e > start and s < end]
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    return Markup(prefix) + _marked(text[start:end], inside, start) + Markup(suffix)
