"""Paragraph structure: rejoin broken lines, tell captions and headings from prose.

Copied and mirrored pages break sentences across paragraphs (a line ends in
the middle of a word and the next one carries on), put photo captions between
paragraphs, and keep section headings as bare lines.  The body should read as
the article's prose: broken lines are joined back, captions become ``caption``
and headings ``heading`` — both kept in ``paragraphs`` but not in ``body``.
"""
from __future__ import annotations

import re

from .document import Document, Paragraph
from .script import HAN, both_scripts, fold

SENTENCE_PUNCTUATION = re.compile(r"[，。,；;！？!?：:]")
CREDIT_CAPTION = re.compile(both_scripts(
    r"((记者|通讯员)?\s*[\u4e00-\u9fff·]{0,8}\s*(摄|摄影|供图)|资料图片?|(图/|图:|摄影/|摄影:)\s*[\u4e00-\u9fff·\s]{1,12})$"))
ENUMERATED = re.compile(r"^([一二三四五六七八九十]+、|\d+[.、]|[(（][一二三四五六七八九十\d]+[)）]|第[一二三四五六七八九十]+)")
# The longest CREDIT_CAPTION match without its whitespace: '摄影:' and twelve characters; '通讯员', eight
# characters and '供图' are 13.  A match ends the text, so it lies in the text's last this-many characters plus
# however many spaces the text has.
_CREDIT_REACH = 15
CAPTION_LEAD = re.compile(both_scripts(r"^(图为|图片为|上图|下图|左图|右图|图[:：]|[(（]图)"))
_CAPTION_MAX = 80
_BARE_LINE_MAX = 30  # a heading or a caption is a short line without sentence punctuation
_PROSE_MIN = 16  # a broken line is a line of prose, not a word or two
_MARKUP_LINE_MIN = 40  # in HTML, a paragraph cut mid-phrase is a long one (headings, captions, rows are short)
HEADING_TAGS = ("h2", "h3", "h4", "h5", "h6", "strong", "b")
CELL_TAGS = ("td", "th", "li")  # short lines in tables and lists are data, not captions
UNJOINABLE_TAGS = HEADING_TAGS + ("h1", "meta-line", "figcaption")  # headline, info and caption lines are whole
CONTINUATION = "，。、；：！？"  # marks that end a clause: a paragraph opening on one was cut mid-sentence


def _prose(text: str) -> bool:
    """Long enough and punctuated like running text, and not a numbered heading."""
    return len(text) >= _PROSE_MIN and bool(SENTENCE_PUNCTUATION.search(text)) and not ENUMERATED.match(text)


def _open_end(text: str) -> bool:
    """The line stops inside a Chinese sentence: on a Han character or a pause mark after one.

    Latin text never counts: an English paragraph ending without '。' is a
    finished paragraph, not a broken line.
    """
    last, before = text[-1:], text[-2:-1]
    return bool(HAN.match(last)) or last in "，、；" or (last in ",;" and bool(HAN.match(before)))


def _continues(previous: str, text: str, after_markup: bool) -> bool:
    """The line picks up the sentence ``previous`` left open.

    In plain text any line opening on a Han character may.  Paragraphs cut
    from HTML are mostly the page's own blocks, and a short unpunctuated line
    before one is a subheading, a caption or a table row ('…联票220元',
    '以变应变，政策“大礼包”提振信心'): there the break must show — the next
    line opens on a mark no sentence starts with ('。我们…'), or a long line
    of prose stops on a character in the middle of a phrase ('…同时又提' /
    '高申报资料的质量').
    """
    first = text[:1]
    if first in CONTINUATION:
        return True
    if not HAN.match(first):
        return False
    return not after_markup or len(previous) >= _MARKUP_LINE_MIN and bool(HAN.match(previous[-1:]))


def _broken(previous: Paragraph, paragraph: Paragraph, after_markup: bool) -> bool:
    """Whether ``paragraph`` carries on the sentence ``previous`` left unfinished."""
    return (previous.kind == paragraph.kind == "body"
            and previous.tag not in UNJOINABLE_TAGS and paragraph.tag not in UNJOINABLE_TAGS
            and _prose(previous.text) and _open_end(previous.text) and not _credit_caption(previous)
            and not _bare(paragraph.text) and _continues(previous.text, paragraph.text, after_markup))


def _bare(text: str) -> bool:
    """A short line of words with no sentence punctuation at all (heading or caption shape)."""
    return 0 < len(text) <= _BARE_LINE_MAX and bool(HAN.search(text)) and not SENTENCE_PUNCTUATION.search(text)


def _joined(first: str, second: str) -> str:
    space = " " if first[-1:].isascii() and first[-1:].isalnum() and second[:1].isascii() and second[:1].isalnum() else ""
    return first + space + second


def rejoin_lines(doc: Document) -> Document:
    """Join a body paragraph that stops mid-sentence with the body paragraph that continues it.

    Only Chinese prose lines are joined (punctuated, stopping on a Han
    character or a pause mark, not a photo credit like '…活动。记者张城摄'),
    never headline, info or heading lines (tags ``h1``, ``meta-line``, h2…),
    so a date line is not glued to the lead paragraph.  HTML input asks for
    more evidence of a break (see ``_continues``).
    """
    after_markup = doc.html is not None
    out: list[Paragraph] = []
    for paragraph in doc.paragraphs:
        previous = out[-1] if out else None
        if previous is not None and _broken(previous, paragraph, after_markup):
            out[-1] = Paragraph(_joined(previous.text, paragraph.text), "body", None, previous.tag,
                                max(previous.link_density, paragraph.link_density))
        else:
            out.append(paragraph)
    return doc.with_paragraphs(out)


def _credit_caption(paragraph: Paragraph) -> bool:
    text = fold(paragraph.text).strip()
    return paragraph.tag == "figcaption" or len(text) <= _CAPTION_MAX and (
        _ends_in_credit(text) or bool(CAPTION_LEAD.match(text)))


def _ends_in_credit(text: str) -> bool:
    """``CREDIT_CAPTION.search(text)``, tried only where a match can start: the regex is tried at every
    position otherwise (tens of microseconds on a caption-length line)."""
    if text.isprintable():  # then its only whitespace characters are spaces
        text = text[-(_CREDIT_REACH + text.count(" ")):]
    return CREDIT_CAPTION.search(text) is not None


def mark_captions_and_headings(doc: Document) -> Document:
    """Captions by their credit ('记者张城摄', '供图') or tag; bare lines by what follows them.

    A bare line followed by prose introduces it: a heading.  In plain text,
    where pictures leave no trace, a bare line followed by another bare line
    or by nothing sits among pictures: a caption — unless it is numbered
    ('一、…'), then it is a list item.  HTML input has no such guess: the
    HTML stage saw the images and marked their captions itself, so a bare
    line there is a line of the page ('阅读量340', a table label).  '——' lead
    lines inside the body are headings too.  A short piece next to a
    ``garbled`` span is what is left of a damaged sentence.
    """
    guess_captions = doc.html is None
    paragraphs = list(doc.paragraphs)
    for i, paragraph in enumerate(paragraphs):
        neighbours = paragraphs[max(0, i - 1):i] + paragraphs[i + 1:i + 2]
        if paragraph.kind != "body" or any(p.kind == "garbled" for p in neighbours):
            continue
        text = paragraph.text.strip()
        if _credit_caption(paragraph):
            paragraphs[i] = paragraph.mark("caption", "photo caption")
        elif paragraph.tag in HEADING_TAGS and len(text) <= _BARE_LINE_MAX:
            paragraphs[i] = paragraph.mark("heading", "section heading")
        elif text.startswith("——") and len(text) <= 2 * _BARE_LINE_MAX:
            paragraphs[i] = paragraph.mark("heading", "section lead line")
        elif _bare(text):
            following = next((p for p in paragraphs[i + 1:] if p.kind in ("body", "heading", "caption")), None)
            if following is not None and _prose(following.text) and not following.text.startswith("——"):
                paragraphs[i] = paragraph.mark("heading", "section heading")
            elif guess_captions and not ENUMERATED.match(text) and paragraph.tag not in CELL_TAGS:
                paragraphs[i] = paragraph.mark("caption", "photo caption (short line among pictures)")
    return doc.with_paragraphs(paragraphs)
