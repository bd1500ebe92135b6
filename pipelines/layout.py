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

TERMINAL = "。！？!?…”’」』)）"
SENTENCE_PUNCTUATION = re.compile(r"[，。,；;！？!?：:]")
CREDIT_CAPTION = re.compile(both_scripts(
    r"((记者|通讯员)?\s*[\u4e00-\u9fff·]{0,8}\s*(摄|摄影|供图)|资料图片?|(图/|图:|摄影/|摄影:)\s*[\u4e00-\u9fff·\s]{1,12})$"))
ENUMERATED = re.compile(r"^([一二三四五六七八九十]+、|\d+[.、]|[(（][一二三四五六七八九十\d]+[)）]|第[一二三四五六七八九十]+)")
CAPTION_LEAD = re.compile(both_scripts(r"^(图为|图片为|上图|下图|左图|右图|图[:：]|[(（]图)"))
_CAPTION_MAX = 80
_BARE_LINE_MAX = 30  # a heading or a caption is a short line without sentence punctuation
_PROSE_MIN = 16  # a broken line is a line of prose, not a word or two
HEADING_TAGS = ("h2", "h3", "h4", "h5", "h6", "strong", "b")
CELL_TAGS = ("td", "th", "li")  # short lines in tables and lists are data, not captions


def _prose(text: str) -> bool:
    """Long enough and punctuated like running text, and not a numbered heading."""
    return len(text) >= _PROSE_MIN and bool(SENTENCE_PUNCTUATION.search(text)) and not ENUMERATED.match(text)


def _ends_mid_sentence(text: str) -> bool:
    return bool(text) and text[-1] not in TERMINAL and text[-1] not in "：:"


def _bare(text: str) -> bool:
    """A short line of words with no sentence punctuation at all (heading or caption shape)."""
    return 0 < len(text) <= _BARE_LINE_MAX and bool(HAN.search(text)) and not SENTENCE_PUNCTUATION.search(text)


def _joined(first: str, second: str) -> str:
    space = " " if first[-1:].isascii() and first[-1:].isalnum() and second[:1].isascii() and second[:1].isalnum() else ""
    return first + space + second


def rejoin_lines(doc: Document) -> Document:
    """Join a body paragraph that stops mid-sentence with the body paragraph that continues it.

    Only prose lines are joined (punctuated, no sentence end, not a photo
    credit like '…活动。记者张城摄'), so headings and short title lines are
    never glued to the next paragraph.
    """
    out: list[Paragraph] = []
    for paragraph in doc.paragraphs:
        previous = out[-1] if out else None
        if (previous is not None and previous.kind == paragraph.kind == "body" and previous.tag not in HEADING_TAGS
                and _prose(previous.text) and _ends_mid_sentence(previous.text) and not _credit_caption(previous)
                and not _bare(paragraph.text)):
            out[-1] = Paragraph(_joined(previous.text, paragraph.text), "body", None, previous.tag,
                                max(previous.link_density, paragraph.link_density))
        else:
            out.append(paragraph)
    return doc.with_paragraphs(out)


def _credit_caption(paragraph: Paragraph) -> bool:
    text = fold(paragraph.text).strip()
    return paragraph.tag == "figcaption" or len(text) <= _CAPTION_MAX and bool(
        CREDIT_CAPTION.search(text) or CAPTION_LEAD.match(text))


def mark_captions_and_headings(doc: Document) -> Document:
    """Captions by their credit ('记者张城摄', '供图') or tag; bare lines by what follows them.

    A bare line followed by prose introduces it: a heading.  A bare line
    followed by another bare line or by nothing sits among pictures: a
    caption — unless it is numbered ('一、…'), then it is a list item.
    '——' lead lines inside the body are headings too.  A short piece next
    to a ``garbled`` span is what is left of a damaged sentence.
    """
    paragraphs = list(doc.paragraphs)
    for i, paragraph in enumerate(paragraphs):
        neighbours = paragraphs[max(0, i - 1):i] + paragraphs[i + 1:i + 2]
        if paragraph.kind != "body" or any(p.kind == "garbled" for p in neighbours):
            continue
        text = paragraph.text.strip()
        following = next((p for p in paragraphs[i + 1:] if p.kind in ("body", "heading", "caption")), None)
        if _credit_caption(paragraph):
            paragraphs[i] = paragraph.mark("caption", "photo caption")
        elif paragraph.tag in HEADING_TAGS and len(text) <= _BARE_LINE_MAX:
            paragraphs[i] = paragraph.mark("heading", "section heading")
        elif text.startswith("——") and len(text) <= 2 * _BARE_LINE_MAX:
            paragraphs[i] = paragraph.mark("heading", "section lead line")
        elif _bare(text):
            if following is not None and _prose(following.text) and not following.text.startswith("——"):
                paragraphs[i] = paragraph.mark("heading", "section heading")
            elif not ENUMERATED.match(text) and paragraph.tag not in CELL_TAGS:
                paragraphs[i] = paragraph.mark("caption", "photo caption (short line among pictures)")
    return doc.with_paragraphs(paragraphs)
