"""Cut a parsed HTML tree into text blocks, in document order, without recursion.

A *block* is the text a browser would lay out as one paragraph: the text of a
block element (p, li, h2, td ...) or a run between ``<br>`` tags.  The walk uses
``lxml.etree.iterwalk`` (C-level iteration) with an explicit stack, so pages
nested thousands of levels deep cannot exhaust Python's recursion limit.

Every element gets a span ``[start, end]`` of walk positions and every block the
position of its first text, so "is this block inside that element" is a pair of
integer comparisons; the container choice (``pipelines.density``) and the
ZJEG_RSS comment markers both work on these positions.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from lxml import etree

BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dialog dir div dl dt fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html li main menu nav ol p pre "
    "section summary table tbody tfoot thead td th tr ul".split()
)
SKIP_TAGS = frozenset(
    "audio button canvas datalist embed head iframe input map noscript object option script select "
    "style svg template textarea title video".split()
)
HINTS = {"h1": "h1", "h2": "h2", "h3": "h3", "h4": "h4", "h5": "h5", "h6": "h6",
         "li": "li", "figcaption": "figcaption", "td": "td", "th": "td"}
BOLD_TAGS = frozenset(("b", "strong"))

# Body containers (class or id, any case) of the CMS families common on Chinese government sites, most
# specific first: TRS WCM (old and UEditor), 开普云 UCAP, Hanweb #zoom, VSB, WebPlus, then house styles.
# Generic names ("content", "text") are left to density scoring, where they earn a class bonus.
CMS_CONTAINERS = ("TRS_Editor", "TRS_UEDITOR", "trs_editor_view", "UCAP-CONTENT", "zoom", "v_news_content",
                  "wp_articlecontent", "article_con", "pages_content", "artibody", "main-text", "con_nr")
_CMS_NAMES = {name.lower(): name for name in CMS_CONTAINERS}
_MARKER_META = {"contentstart": "begin", "contentend": "end"}
_SPACE = re.compile(r"[\s\u00a0\u3000\u200b\u200c\u200d\ufeff]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\ufeff]")  # the _SPACE characters that are not \s
_CJK = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])[\s\u3000]*\n[\s\u3000]*(?=[{_CJK}])")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.I)  # not visibility: WeChat reveals #js_content by script
# Page furniture (readability's "unlikely candidates"): text inside is not scored as body and, when it sits inside
# the chosen body container, is marked boilerplate.  A name that also says article/body/main/content is a wrapper.
_FURNITURE = re.compile(r"comment|disqus|footer|sidebar|sponsor|popup|shoutbox|relate|recommend|crumb|share|"
                        r"social|navbar|\bnav\b|menu|masthead|pagination|pager|advert|copyright|statement|disclaimer|"
                        r"xgxw|xglj", re.I)
_WRAPPER = re.compile(r"article|body|main|content|column|zoom|editor", re.I)
_FURNITURE_TAGS = frozenset(("nav", "aside", "footer"))
_NEVER_FURNITURE = frozenset(("html", "body", "main", "article"))
_WRAPPER_SHARE = 40  # percent of the page's text above which a "sidebar"-classed element is a wrapper
_CENTER_STYLE = re.compile(r"text-align\s*:\s*center", re.I)
_IMAGE_FILE = re.compile(r"\.(jpe?g|png|gif|bmp|webp|svg)$|^[A-Za-z0-9_\-]+$", re.I)  # file names, ids
_SMALL_FORM = 300  # a <form> with less text than this is a search/login/comment box
# All the text inside an element, as lxml.html's ``text_content()`` reads it (the trees here are plain etree).
text_content = etree.XPath("string()", smart_strings=False)


@dataclass
class Block:
    """One paragraph-to-be: its normalized text and what the markup said about it."""

    text: str
    pos: int
    owner: object | None  # innermost open block element (lxml element) or None
    tag: str | None = None
    link_chars: int = 0
    after_image: bool = False
    alt: bool = False  # made from an <img alt>
    furniture: str | None = None  # name of the enclosing nav/footer/comment/related element, if any
    length: int = field(init=False)  # characters without spaces, the unit of every density measure

    def __post_init__(self):
        self.length = len(self.text) - self.text.count(" ")

    @property
    def link_density(self) -> float:
        return min(1.0, self.link_chars / self.length) if self.length else 0.0

    @property
    def centered(self) -> bool:
        """Whether the owner or its parent centres the text (asked only of lines right after an image)."""
        owner = self.owner
        return _is_centered(owner) or (owner is not None and _is_centered(owner.getparent()))


@dataclass
class Walk:
    """What one pass over the tree found."""

    blocks: list = field(default_factory=list)
    spans: dict = field(default_factory=dict)  # element -> [start, end]
    markers: dict = field(default_factory=dict)  # "begin"/"end" -> position (ZJEG_RSS, ContentStart)
    cms: list = field(default_factory=list)  # (container name, element) in document order


def normalize(text: str) -> str:
    """Collapse whitespace as a browser would; a line break between two CJK characters disappears."""
    # Every _SPACE character but the space is unprintable (a line break too): a printable text without
    # two spaces in a row has nothing to collapse.
    if "  " not in text and text.isprintable():
        return text.strip()
    if "\n" in text:  # _CJK_BREAK needs one
        text = _join_cjk_lines(text)
    if not _ZERO_WIDTH.search(text):  # then _SPACE is \s, as str.split() sees it (far faster than the regex)
        return " ".join(text.split())
    return _SPACE.sub(" ", text).strip()


def _join_cjk_lines(text: str) -> str:
    """``_CJK_BREAK.sub("", text)``, with the regex run only on the whitespace around each line break.

    A match is whitespace with a line break in it, so it lies in one run of whitespace around a line
    break; what it may remove there depends on that run and the character on either side of it alone.
    Tried at every position of the text instead, the regex's lookbehind costs more than the rest of the
    segmentation of a long paragraph."""
    pieces, done, end = [], 0, len(text)
    brk = text.find("\n")
    while brk >= 0:
        start, stop = brk, brk + 1
        while start > 0 and text[start - 1].isspace():  # str.isspace is the \s of a str pattern
            start -= 1
        while stop < end and text[stop].isspace():
            stop += 1
        before, after = (1 if start > 0 else 0), (1 if stop < end else 0)
        joined = _CJK_BREAK.sub("", text[start - before:stop + after])  # never removes the characters around
        pieces += (text[done:start], joined[before:len(joined) - after])
        done = stop
        brk = text.find("\n", stop)
    pieces.append(text[done:])
    return "".join(pieces)


def _visible_length(text: str) -> int:
    """Characters that are not ``_SPACE`` (whitespace, nbsp, zero-width)."""
    if text.isprintable():  # only spaces can be _SPACE characters (see ``normalize``)
        return len(text) - text.count(" ")
    return len(_SPACE.sub("", text))


def _blank(text: str) -> bool:
    """Empty or only ``_SPACE`` characters (whitespace, nbsp, zero-width).  ``fullmatch`` stops at the first
    other character, where removing all spaces to compare would copy the whole text."""
    return not text or _SPACE.fullmatch(text) is not None


def segment(root) -> Walk:
    """Walk ``root`` once and return its blocks, element spans, markers and CMS containers."""
    return _Walker().run(root)


def class_names(el) -> list[str]:
    """The class tokens and the id of an element (CMS containers are named by either)."""
    element_id = el.get("id")
    return (el.get("class") or "").split() + ([element_id] if element_id else [])


def _is_skipped(el, tag: str, keys: list[str]) -> bool:
    """Invisible or non-text subtrees; a small <form> is a widget, a page-wrapping one (ASP.NET) is not.
    ``keys`` are the element's attribute names (``el.keys()``)."""
    if tag in SKIP_TAGS or "hidden" in keys:
        return True
    if "style" in keys and _HIDDEN_STYLE.search(el.get("style")):
        return True
    return tag == "form" and len(text_content(el)) < _SMALL_FORM


def _furniture_name(el, names: list[str], tag: str | None = None) -> str | None:
    """The tag (nav, aside, footer) or the class/id token ("related", "share-box") that makes the element
    look like page furniture rather than content; None for content and for wrappers.  ``tag`` is
    ``el.tag`` when the caller has read it already."""
    tag = el.tag if tag is None else tag
    if tag in _NEVER_FURNITURE or (names and _WRAPPER.search(" ".join(names))):
        return None
    if tag in _FURNITURE_TAGS:
        return tag
    for name in names:
        if _FURNITURE.search(name):
            return name
    return None


def _mark_furniture(walk: Walk, candidates: list) -> None:
    """Give each block the name of the innermost furniture element around it.

    A candidate holding a large share of the page's visible text is a layout wrapper whose class merely
    mentions a sidebar or menu ("has-sidebar"), so it is not furniture.  Spans nest, so one sweep in
    document order with a stack of open spans finds the innermost one.
    """
    totals = SpanTotals(walk.blocks)
    page = totals.text[-1]
    spans = [(walk.spans[el], name) for el, name in candidates]
    spans = [(span, name) for span, name in spans if totals.lengths(span)[0] * 100 < page * _WRAPPER_SHARE]
    open_spans: list = []
    queue = iter(spans)
    upcoming = next(queue, None)
    for block in walk.blocks:
        while upcoming is not None and upcoming[0][0] <= block.pos:
            open_spans.append(upcoming)
            upcoming = next(queue, None)
        while open_spans and open_spans[-1][0][1] < block.pos:
            open_spans.pop()
        block.furniture = open_spans[-1][1] if open_spans else None


class SpanTotals:
    """Prefix sums over blocks so the text and link lengths of any span are two bisects away."""

    def __init__(self, blocks):
        self.pos = [b.pos for b in blocks]
        self.text = [0, *accumulate(b.length for b in blocks)]
        self.links = [0, *accumulate(b.link_chars for b in blocks)]

    def lengths(self, span) -> tuple[int, int]:
        lo, hi = bisect_left(self.pos, span[0]), bisect_right(self.pos, span[1])
        return self.text[hi] - self.text[lo], self.links[hi] - self.links[lo]

    def link_density(self, span) -> float:
        text, links = self.lengths(span)
        return min(1.0, links / text) if text else 1.0


def _is_centered(el) -> bool:
    if el is None:
        return False
    if el.tag == "center" or (el.get("align") or "").lower() == "center":
        return True
    return bool(_CENTER_STYLE.search(el.get("style") or ""))


def _alt_text(el) -> str:
    """An image's alt/title when it reads like a caption rather than a file name or a placeholder."""
    alt = normalize(el.get("alt") or el.get("title") or "")
    if len(alt) < 4 or _IMAGE_FILE.search(alt):
        return ""
    figure = next(el.iterancestors("figure"), None)
    if figure is not None and figure.find(".//figcaption") is not None:
        return ""
    return alt


class _Walker:
    """The state of one document-order walk: open blocks, inline text gathered so far, link/bold depth."""

    def __init__(self):
        self.walk = Walk()
        self.pos = 0
        self.parts: list[tuple[str, int, bool, bool]] = []  # (text, pos, in link, in bold)
        self.open_blocks: list = []
        self.furniture: list = []  # (element, name) of furniture-looking elements in document order
        self.links = self.bold = self.captions = 0
        self.pending_image = False

    def run(self, root) -> Walk:
        # The per-element work is written out here rather than in helper methods: this loop runs for every
        # element of every page, and method calls and attribute lookups were a good part of its cost.
        events = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
        spans, parts, open_blocks = self.walk.spans, self.parts, self.open_blocks
        skipping = None
        for event, el in events:
            if event == "start":
                tag = el.tag  # lxml builds a new string on each read: read it once per event
                if not isinstance(tag, str):
                    continue
                self.pos += 1
                spans[el] = [self.pos, self.pos]
                keys = el.keys()  # one call: most elements have none of the attributes read here, or few
                if _is_skipped(el, tag, keys):
                    skipping = el
                    events.skip_subtree()
                    continue
                self._start(el, tag, class_names(el) if keys else [])
                text = el.text
            elif event == "end":
                tag = el.tag
                if not isinstance(tag, str):
                    continue
                if el is skipping:
                    skipping = None
                else:
                    if open_blocks and open_blocks[-1] is el:
                        self._flush()
                        open_blocks.pop()
                    if tag == "a":
                        self.links -= 1
                    elif tag in BOLD_TAGS:
                        self.bold -= 1
                    elif tag == "figcaption":
                        self.captions -= 1
                    spans[el][1] = self.pos
                    self.pos += 1
                text = el.tail
            else:  # comment, pi
                self._comment(el)
                continue
            if text:
                parts.append((text, self.pos, self.links > 0, self.bold > 0))
        self._flush()
        _mark_furniture(self.walk, self.furniture)
        return self.walk

    def _start(self, el, tag: str, names: list[str]):
        """An element opens (its span is set already); ``names``: ``class_names(el)``."""
        cms = [_CMS_NAMES[c.lower()] for c in names if c.lower() in _CMS_NAMES] if names else []
        if cms:
            self.walk.cms.append((cms[0], el))
        marker = _MARKER_META.get((el.get("name") or "").lower()) if tag == "meta" else None
        is_break = tag in BLOCK_TAGS or bool(cms)  # a CMS container may be a <font> or <span>
        if is_break or marker or tag in ("br", "img"):
            self._flush()
        if is_break:
            self.open_blocks.append(el)
        if marker:
            self.walk.markers.setdefault(marker, self.pos)
        furniture = _furniture_name(el, names, tag) if names or tag in _FURNITURE_TAGS else None
        if furniture:
            self.furniture.append((el, furniture))
        if tag == "img":
            self._image(el)
        elif tag == "a":
            self.links += 1
        elif tag in BOLD_TAGS:
            self.bold += 1
        elif tag == "figcaption":
            self.captions += 1

    def _comment(self, node):
        text = node.text or ""
        for key in ("begin", "end"):
            if f"ZJEG_RSS.content.{key}" in text:
                self._flush()
                self.pos += 1
                self.walk.markers.setdefault(key, self.pos)
        self._text(node.tail)

    def _image(self, el):
        alt = _alt_text(el)
        if alt and not self.links:
            owner = self.open_blocks[-1] if self.open_blocks else None
            self.walk.blocks.append(Block(alt, self.pos, owner, "figcaption", alt=True))
        self.pending_image = True

    def _text(self, text):
        if text:
            self.parts.append((text, self.pos, self.links > 0, self.bold > 0))

    def _flush(self):
        """Close the current run of inline text as one block (nothing if it is only whitespace)."""
        parts = self.parts  # emptied in place: ``run`` holds on to the list
        if not parts:
            return
        text = normalize(parts[0][0] if len(parts) == 1 else "".join([p[0] for p in parts]))
        if not text:
            parts.clear()
            return
        owner = self.open_blocks[-1] if self.open_blocks else None
        if len(parts) == 1:  # most blocks: one text node
            part, _, in_link, in_bold = parts[0]
            linked = _visible_length(part) if in_link else 0
            bold = in_bold or _blank(part)
        else:
            linked = sum(_visible_length(p[0]) for p in parts if p[2])
            bold = all(p[3] or _blank(p[0]) for p in parts)
        block = Block(text, parts[0][1], owner, self._hint(owner, bold), linked, self.pending_image)
        parts.clear()
        self.walk.blocks.append(block)
        self.pending_image = False

    def _hint(self, owner, bold: bool) -> str | None:
        if self.captions:
            return "figcaption"
        hint = HINTS.get(owner.tag) if owner is not None else None
        return hint or ("strong" if bold else None)
