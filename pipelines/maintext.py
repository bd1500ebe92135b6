"""HTML stage: a fetched page in, a ``Document`` of main-text paragraphs out.

Only the article body is returned as paragraphs (chosen by ``pipelines.density``:
a CMS container such as ``TRS_Editor``/``#zoom``/ZJEG_RSS comments, else density
scoring), plus the header region just before it (the h1 title line, a subtitle,
the info line with 发布时间/来源) and credit lines just after it (责任编辑…),
because the downstream metadata step classifies those.  Navigation, related-link
lists and footers outside the body never become paragraphs.  What the page says
about itself outside the body (``<title>``, first h1, ``<meta>`` values, lang,
charset) goes to ``page_meta``.

Bad markup never raises: truncated, empty, binary or absurdly nested input gives
whatever text survives parsing, possibly no paragraphs at all.
"""
from __future__ import annotations

import re
import threading

from lxml import etree

from .density import choose_ranges, title_index
from .document import Document, Paragraph
from .htmlblocks import Block, class_names, normalize, segment, text_content

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.I)
_FLATTENINGS = (  # tried in turn while libxml2 still finds the page too deep
    (re.compile(r"</?(?:font|span|b|strong|i|em|u|small|big|sup|sub)\b[^>]*>", re.I), ""),
    (re.compile(r"</?(?:div|section|article|center|blockquote|dl|dd|dt)\b[^>]*>", re.I), "<br>"),
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_MARKER = re.compile(r"^(vsbcontent_(start|end)|ZJEG_RSS\.content\.(begin|end)|正文(开始|结束))$", re.I)
_META_LINE = re.compile(r"发布时间|发布日期|发表时间|时间[:：]|日期[:：]|来源[:：]|信息来源|作者[:：]|记者|编辑|浏览|点击|"
                        r"阅读|字号|\d{4}\s*[-年/.]\s*\d{1,2}\s*[-月/.]\s*\d{1,2}")
_CREDIT_LINE = re.compile(r"责任编辑|责编|编辑[:：/]|审核|校对|来源[:：]|作者[:：]|撰稿|供稿|记者|摄影|通讯员")
_TITLE_CLASS = re.compile(r"title|tit\b|bt\b|headline|biaoti", re.I)
_CAPTION_WORDS = re.compile(r"^(图为|图[:：]|（图|\(图|图\d)|[摄供]图?[）)]?$|摄$")
_MAX_CAPTION = 80
_MAX_META_LINE = 200
_SHORT_LINE = 120  # longest subtitle, title-classed line or credit line
_HEADER_REACH = 30  # blocks between title and body beyond which they are not one header
_TRAILER_REACH = 8
_LINK_LIST = 0.6  # link share above which a list item in the body is a link list
_LINK_LINE_MAX = 40
_LINK_RUN = 3  # this many all-link lines in a row make a list
_ATTACHMENT = re.compile(r"附件|\.(pdf|docx?|xlsx?|wps|et|zip|rar|7z|ofd)\s*$", re.I)


def html_to_document(html: str, url: str | None = None) -> Document:
    """Parse ``html`` and return the main text as paragraphs in document order, with ``page_meta``."""
    if not isinstance(html, str):
        raise ValueError(f"html_to_document needs text, got {type(html).__name__}")
    root = parse_html(html)
    if root is None:
        return Document(url=url, html=html)
    page_meta = read_page_meta(root)
    walk = segment(root)
    title = title_index(walk.blocks, page_meta)
    ranges, _ = choose_ranges(walk, title)
    paragraphs = _paragraphs(walk.blocks, ranges, title)
    return Document(url=url, html=html, paragraphs=tuple(paragraphs), page_meta=page_meta)


def parse_html(html: str):
    """lxml's forgiving HTML parser on cleaned text; None when nothing parseable is left.

    libxml2 stops reading at 2048 levels of nesting and silently drops the rest of the page; old
    FrontPage-era pages get there with thousands of unclosed <font> tags.  Then the page is parsed again
    with inline formatting tags removed and, if still too deep, with <div>-like wrappers turned into <br>.
    """
    text = _XML_DECL.sub("", _CONTROL.sub("", html))
    if not text or text.isspace():
        return None
    root, too_deep = _parse_once(text)
    for pattern, replacement in _FLATTENINGS:
        if not too_deep:
            break
        text = pattern.sub(replacement, text)
        root, too_deep = _parse_once(text)
    return root


_PARSERS = threading.local()


def _parser() -> etree.HTMLParser:
    """This thread's parser.  A parser is reused (its error log is cleared at each parse): a fresh one
    costs a third of the parse.  A plain ``etree`` parser, not ``lxml.html``'s: the tree is only read,
    and lxml.html's element classes cost a Python call for every element the walk touches."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.HTMLParser(huge_tree=True, remove_comments=False)
    return parser


def _parse_once(text: str):
    """(root or None, whether libxml2 gave up on the nesting depth)."""
    parser = _parser()
    try:
        root = etree.fromstring(text, parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        root = None
    return root, any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log)


def read_page_meta(root) -> dict:
    """``<title>``, first h1, meta name/property values, lang and charset; keys lower-cased, first wins."""
    meta: dict = {}
    title = root.find(".//title")
    if title is not None and normalize(text_content(title)):
        meta["title"] = normalize(text_content(title))
    h1 = next((t for t in (normalize(text_content(h)) for h in root.iter("h1")) if t), None)
    if h1:
        meta["h1"] = h1
    for el in root.iter("meta"):
        _read_meta_tag(el, meta)
    lang = root.get("lang") or root.get("xml:lang")
    if lang:
        meta.setdefault("lang", lang.strip())
    return meta


def _read_meta_tag(el, meta: dict) -> None:
    """One <meta>: its charset (either spelling) and its name/property value."""
    if el.get("charset"):
        meta.setdefault("charset", el.get("charset").strip().lower())
    equiv = (el.get("http-equiv") or "").lower()
    content = normalize(el.get("content") or "")
    if equiv == "content-type" and _CHARSET.search(content):
        meta.setdefault("charset", _CHARSET.search(content).group(1).lower())
    key = (el.get("name") or el.get("property") or "").strip().lower()
    if key and content:
        meta.setdefault(key, content)


def _paragraphs(blocks: list[Block], ranges, title: int | None) -> list[Paragraph]:
    """Header lines, body blocks, trailing credit lines — in document order."""
    if not ranges:
        return []
    if len(ranges) == 1:  # the usual case, without a generator per block
        lo, hi = ranges[0]
        inside = [i for i, b in enumerate(blocks) if lo <= b.pos <= hi]
    else:
        inside = [i for i, b in enumerate(blocks) if any(lo <= b.pos <= hi for lo, hi in ranges)]
    if not inside:
        return []
    first, last = inside[0], inside[-1]
    if title is not None and first <= title <= last:  # the container holds the headline too
        header, tags = [], _inner_header_tags(blocks, inside, title)
    else:
        near = title if title is not None and first - _HEADER_REACH <= title < first else None
        header, tags = _header(blocks[:first], near), {}
    trailer = _trailer(blocks[last + 1:])
    listed = _link_runs([blocks[i] for i in inside])
    body = [_body_paragraph(blocks[i], blocks[i].pos in listed, tags.get(i)) for i in inside]
    return header + [p for p in body if p is not None] + trailer


def _inner_header_tags(blocks: list[Block], inside: list[int], title: int) -> dict[int, str]:
    """Tag hints for a headline inside the body container and the info lines right below it."""
    tags = {title: "h1"}
    for i in inside[inside.index(title) + 1:]:
        if blocks[i].length > _MAX_META_LINE or not _META_LINE.search(blocks[i].text):
            break
        tags[i] = "meta-line"
    return tags


def _link_runs(blocks: list[Block]) -> set[int]:
    """Positions (``Block.pos``) of blocks in runs of short, all-link lines: issue lists, "more" lists.

    Attachment lines (附件, file names) are links too but they are content, so they break a run."""
    def linky(block: Block) -> bool:
        return (block.link_density >= 0.9 and block.length <= _LINK_LINE_MAX
                and not _ATTACHMENT.search(block.text))
    runs, run = set(), []
    for block in [*blocks, None]:
        if block is not None and linky(block):
            run.append(block.pos)
            continue
        if len(run) >= _LINK_RUN:
            runs.update(run)
        run = []
    return runs


def _header(before: list[Block], start: int | None) -> list[Paragraph]:
    """The title line (the headline, else the closest h1 above the body), an optional subtitle,
    and the info lines between it and the body."""
    start = start if start is not None else _nearest_title_line(before)
    if start is None:
        return []
    out = [_paragraph(before[start], tag="h1")]
    for i, block in enumerate(before[start + 1:], start + 1):
        if i == start + 1 and block.tag in ("h2", "h3", "h4") and block.length <= _SHORT_LINE:
            out.append(_paragraph(block))
        elif block.length <= _MAX_META_LINE and _META_LINE.search(block.text):
            out.append(_paragraph(block, tag="meta-line"))
    return out


def _nearest_title_line(before: list[Block]) -> int | None:
    """Index of the nearest h1 (or title-classed line) among the last blocks before the body."""
    reach = range(len(before) - 1, max(-1, len(before) - 1 - _HEADER_REACH), -1)
    for i in reach:
        if before[i].tag == "h1" and 2 <= before[i].length <= 200:
            return i
    for i in reach:
        owner = before[i].owner
        names = " ".join(class_names(owner)) if owner is not None else ""
        if _TITLE_CLASS.search(names) and 4 <= before[i].length <= _SHORT_LINE and before[i].link_chars == 0:
            return i
    return None


def _trailer(after: list[Block]) -> list[Paragraph]:
    """Credit lines (责任编辑, 来源 …) right below the body."""
    out = []
    for block in after[:_TRAILER_REACH]:
        if block.length > _SHORT_LINE:
            break
        if _is_credit(block):
            out.append(_paragraph(block, tag="meta-line"))
    return out


def _is_credit(block: Block) -> bool:
    return block.length <= _SHORT_LINE and block.link_density < 0.5 and bool(_CREDIT_LINE.search(block.text))


def _body_paragraph(block: Block, in_link_run: bool, tag: str | None) -> Paragraph | None:
    """One body block as a paragraph: captions and link lists marked, CMS markers dropped."""
    if _MARKER.match(block.text):
        return None
    if tag:
        return _paragraph(block, tag=tag)
    if _is_caption(block):
        return _paragraph(block, kind="caption", reason="photo caption", tag="figcaption")
    if block.furniture and _is_credit(block):  # a <footer> under the article still carries 责任编辑
        return _paragraph(block, tag="meta-line")
    if block.furniture:
        return _paragraph(block, kind="boilerplate", reason=f"inside {block.furniture} block")
    if in_link_run or (block.tag == "li" and block.link_density >= _LINK_LIST):
        return _paragraph(block, kind="boilerplate", reason="link list inside body container")
    return _paragraph(block)


def _is_caption(block: Block) -> bool:
    """<figcaption>, an image's alt text, or a short centred/"图为…" line right after an image."""
    if block.tag == "figcaption" or block.alt:
        return True
    short = block.length <= _MAX_CAPTION
    return block.after_image and short and (block.centered or bool(_CAPTION_WORDS.search(block.text)))


def _paragraph(block: Block, kind: str = "body", reason: str | None = None, tag: str | None = None) -> Paragraph:
    return Paragraph(block.text, kind=kind, reason=reason, tag=tag or block.tag,
                     link_density=round(block.link_density, 3))
