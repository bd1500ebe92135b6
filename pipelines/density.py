"""Choose the article body: a CMS container when the page has one, else density scoring.

The choice is a list of position ranges over a ``htmlblocks.Walk`` (usually one
range; several when readability-style sibling merging adds neighbours of the
best container).  Density scoring follows readability's idea, tuned for Chinese:
a block earns points for its length and its sentence punctuation (，。；！？ are
the comma counts of Chinese prose), those points flow to its parent and, decaying,
to further ancestors, and an ancestor's total is scaled by how little of its text
sits inside links — navigation, related-article lists and footers are short,
punctuation-poor and link-heavy, so they lose to the body.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter

from .htmlblocks import CMS_CONTAINERS, SpanTotals, Walk, class_names, text_content

_PUNCT_MARKS = "，。；！？、,;!?"
_PUNCT = re.compile(rf"[{_PUNCT_MARKS}]|\.(?=\s)")
_POSITIVE = re.compile(r"article|body|content|entry|main|post|text|story|detail|zoom|editor|con_?nr|news_?con|"
                       r"正文", re.I)
_NEGATIVE = re.compile(r"comment|foot|nav|menu|sidebar|side_|related|relate|recommend|share|copyright|banner|"
                       r"crumb|\bhot|rank|widget|login|header|friend|xgxw|xglj|advert|\bads?\b|tags?\b|social|"
                       r"toolbar|pagination|pager", re.I)
_SENTENCE_END = re.compile(r"[。！？.!?]$")
_CONTAINER_TAGS = frozenset(("div", "td", "section", "article", "main", "body", "form", "center", "font", "span"))
_DIVIDERS = (1, 2, 3, 6, 9, 12)  # parent, grandparent, ... (readability.js's 1, 2, 3×level, one level deeper)
_FULL_WEIGHT = 300  # weight beyond this earns no more points
_MIN_BLOCK = 20  # shorter blocks (in Latin-letter equivalents) are labels, buttons and menu items
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")  # runs, not characters: fewer, equally counted
_CLASS_WEIGHT = 25
_CLASS_TRUST = 10  # a name earns its full weight only once the element holds this much scored text
_RIVAL_SHARE = 0.75  # a disjoint candidate this close to the best one is the other half of the article
_PROMOTE_REACH = 6
_MIN_CMS_TEXT = 2  # characters; a CMS container with any real text is the body, however short
_MAX_TITLE = 120
_SPACES = re.compile(r"\s+")
_TITLE_SPLIT = re.compile(r"\s*[_|\-–—]\s*")
_TITLE_MARKS = "_|-–—"  # the separators of _TITLE_SPLIT: one of them is in every match
_FAR_FROM_TITLE = 0.5
_TITLE_REACH = 20  # blocks (byline, share buttons, lead image) allowed between headline and body


def title_index(blocks, page_meta: dict) -> int | None:
    """Index of the block that is the article headline: an h1 the <title>/og:title agrees with, else a block
    equal to one of the title's parts, else the only h1 of the page."""
    titles = [page_meta.get(k, "") for k in ("og:title", "twitter:title", "articletitle", "title")]
    variants = {f for t in titles for p in [t, *_title_parts(t)] if len(f := _fold(p)) >= 4}
    full = [_fold(t) for t in titles if t]
    h1s = [i for i, b in enumerate(blocks) if b.tag == "h1" and not b.link_chars * 2 > b.length]
    for i in h1s:
        text = _fold(blocks[i].text)
        if len(text) >= 4 and (text in variants or any(text in t for t in full)):
            return i
    for i, block in enumerate(blocks):
        if block.length <= _MAX_TITLE and not block.link_chars and _fold(block.text) in variants:
            return i
    return h1s[0] if len(h1s) == 1 else None


def _title_parts(title: str) -> list[str]:
    """``_TITLE_SPLIT.split(title)``; most titles have no separator at all, and the split regex is tried at
    every character (it starts with a ``\\s*``)."""
    if any(mark in title for mark in _TITLE_MARKS):
        return _TITLE_SPLIT.split(title)
    return [title]


def _fold(text: str) -> str:
    if text and text.isprintable():  # the space is the only printable whitespace character
        return text.replace(" ", "")
    return _SPACES.sub("", text or "")


def choose_ranges(walk: Walk, title: int | None = None) -> tuple[list[tuple[int, int]], str]:
    """Return the body's position ranges and how they were found ("zjeg", "cms:<name>", "density", "none").

    ``title`` is the index of the headline block (``title_index``): the body is expected right below it.
    """
    totals = SpanTotals(walk.blocks)
    if "begin" in walk.markers:  # an empty marked range is a template whose body comes by script
        marked = (walk.markers["begin"], walk.markers.get("end", float("inf")))
        if totals.lengths(marked)[0] >= _MIN_CMS_TEXT:
            return [marked], "zjeg"
    found = _cms_container(walk, totals)
    if found is not None:
        name, el = found
        return [tuple(walk.spans[el])], f"cms:{name}"
    ranges = _density_ranges(walk, totals, title)
    return (ranges, "density") if ranges else ([], "none")


def _cms_container(walk: Walk, totals: SpanTotals):
    """The text-richest element of the most specific CMS container name present, if it holds real text."""
    for name in CMS_CONTAINERS:
        best, best_len = None, 0
        for found, el in walk.cms:
            text, links = totals.lengths(walk.spans[el])
            if found == name and text >= _MIN_CMS_TEXT and text > best_len and links < text / 2:
                best, best_len = el, text
        if best is not None:
            return name, best
    return None


def _block_score(block, weight: int | None = None) -> float:
    """A block's points; ``weight`` is ``_weight(block)`` when the caller has it already (or ``_FULL_WEIGHT``
    when that is less: weight counts up to there)."""
    weight = _weight(block) if weight is None else weight
    return 1 + _punctuation(block.text) + min(weight / 100, _FULL_WEIGHT / 100)


def _punctuation(text: str) -> int:
    """``len(_PUNCT.findall(text))``; without a '.' every match is one of the marks, counted one by one."""
    if "." in text:
        return len(_PUNCT.findall(text))
    return sum(map(text.count, _PUNCT_MARKS))


def _weight(block) -> int:
    """Length with each CJK character counted twice: a Chinese character carries about what two
    Latin letters do, so one threshold serves both scripts."""
    return block.length + sum(map(len, _HAN_RUN.findall(block.text)))


def _raw_scores(walk: Walk, min_length: int) -> dict:
    """Points per ancestor element, readability style (no recursion: a bounded walk up from each block).

    A block's points start at its parent, as for a <p>; only an element holding several text runs of
    its own (<br>-separated lines, text around child blocks) is itself a candidate.  A lone-text <div>
    is a paragraph, exactly as readability treats a div without block children.
    """
    runs = Counter(id(b.owner) for b in walk.blocks)
    scores: dict = {}
    for block in walk.blocks:
        if block.owner is None or block.alt or block.furniture:
            continue
        # A block this long weighs at least as much, and its points count weight only up to there: no need
        # to count its CJK characters.
        weight = _FULL_WEIGHT if block.length >= _FULL_WEIGHT else _weight(block)
        if weight < min_length or block.link_density > 0.5:
            continue
        points = _block_score(block, weight)
        own = block.owner.tag in _CONTAINER_TAGS and runs[id(block.owner)] > 1
        el = block.owner if own else block.owner.getparent()
        for divider in _DIVIDERS:
            if el is None:
                break
            scores[el] = scores.get(el, 0.0) + points / divider
            el = el.getparent()
    return scores


def _class_weight(el) -> int:
    """readability's class/id weight; schema.org's itemprop="articleBody" counts as a name too."""
    names = " ".join([*class_names(el), el.get("itemprop") or ""]).strip()
    if not names:
        return 0
    weight = _CLASS_WEIGHT if _POSITIVE.search(names) else 0
    return weight - (_CLASS_WEIGHT if _NEGATIVE.search(names) else 0)


def _density_ranges(walk: Walk, totals: SpanTotals, title: int | None) -> list[tuple[int, int]]:
    final = _final_scores(walk, totals, title)
    if not final:
        return []
    top = _promote(max(final, key=final.get), final, walk)
    parent = top.getparent()
    if parent is None:
        return [tuple(walk.spans[top])]
    threshold = max(10.0, final.get(top, 0.0) * 0.2)
    return [tuple(walk.spans[el]) for el in parent
            if el is top or (el in walk.spans and _joins(el, final, threshold, walk, totals))]


def _final_scores(walk: Walk, totals: SpanTotals, title: int | None) -> dict:
    """Raw points plus class weight, scaled by the share of text outside links and by title proximity."""
    raw = _raw_scores(walk, _MIN_BLOCK) or _raw_scores(walk, 1)  # a one-line notice is still an article
    near = _below_title(walk, title)
    final = {}
    for el, points in raw.items():
        span = walk.spans[el]
        named = points + _class_weight(el) * min(1.0, points / _CLASS_TRUST)
        final[el] = named * (1 - totals.link_density(span)) * near(span)
    return final


def _promote(top, final: dict, walk: Walk):
    """Climb to the nearest ancestor that also holds a near-equal rival: an article split into sections
    (around a pull quote, an ad slot) scores as two separate candidates (readability.js does the same)."""
    bar = final[top] * _RIVAL_SHARE
    lo, hi = walk.spans[top]
    rivals = [walk.spans[el] for el, score in final.items()
              if score >= bar and (walk.spans[el][1] < lo or walk.spans[el][0] > hi)]
    if not rivals:
        return top
    el = top.getparent()
    for _ in range(_PROMOTE_REACH):
        if el is None or el.tag in ("body", "html"):
            return top
        start, end = walk.spans[el]
        if any(start <= r[0] and r[1] <= end for r in rivals):
            return el
        el = el.getparent()
    return top


def _below_title(walk: Walk, title: int | None):
    """A multiplier that halves candidates lying wholly above the headline or far below it: teasers
    elsewhere on the page can out-score a short article, but the article is the text under its title."""
    if title is None:
        return lambda span: 1.0
    positions = [b.pos for b in walk.blocks]
    title_pos = positions[title]

    def near(span) -> float:
        if span[0] <= title_pos <= span[1]:
            return 1.0
        between = bisect_left(positions, span[0]) - title - 1
        return 1.0 if 0 <= between <= _TITLE_REACH else _FAR_FROM_TITLE
    return near


def _joins(el, final: dict, threshold: float, walk: Walk, totals: SpanTotals) -> bool:
    """Readability's sibling rule: a strong-scoring sibling, or a prose paragraph next to the body."""
    if final.get(el, 0.0) >= threshold:
        return True
    if el.tag != "p":
        return False
    text, links = totals.lengths(walk.spans[el])
    density = links / text if text else 1.0
    if text > 80:
        return density < 0.25
    return 0 < text and density == 0 and bool(_SENTENCE_END.search(text_content(el).strip()))
