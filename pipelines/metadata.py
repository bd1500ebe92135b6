"""Move the article's metadata out of the text and into ``doc.meta``.

Pages carry title, date, source, editor and bylines as lines of text around
the body ("发布时间：… 来源：… 责任编辑：…", "□ 黄 凰", "荆楚网讯（记者张城）",
a trailing "（高云）").  This step reads them into the ``articles`` columns and
marks those lines ``meta``/``byline`` so they leave the body.  Every pattern is
written in simplified characters and widened to both scripts by
``script.both_scripts``; values keep the source's script.
"""
from __future__ import annotations

import re

from .dates import DATE, published_from
from .document import Document, Paragraph
from .mirror import strip_pinyin
from .script import both_scripts, compact, fold, join_han_spaces

LABEL = re.compile(both_scripts(
    r"(发布时间|发布日期|发表时间|更新时间|信息来源|文章来源|稿件来源|责任编辑|浏览次数|点击数|阅读次数|"
    r"时间|日期|来源|编辑|责编|作者|记者|通讯员|撰稿|供稿|字号|字体)\s*[:：]\s*"))
# Labels as folded (simplified) text, the form ``_fields`` reports them in.
DATE_LABELS = {"发布时间", "发布日期", "发表时间", "更新时间", "时间", "日期"}
SOURCE_LABELS = {"信息来源", "文章来源", "稿件来源", "来源"}
EDITOR_LABELS = {"责任编辑", "编辑", "责编"}
AUTHOR_LABELS = {"作者", "记者", "通讯员", "撰稿"}
ROLE = re.compile(both_scripts(r"本报记者|特约记者|实习生|记者|通讯员|作者|撰稿|文/|文图|图/|摄影"))
BYLINE = re.compile(r"^[□■◎○●]\s*(?P<credit>.{1,40})$")
_NAMES = r"[\u4e00-\u9fff]{2,4}(?:[\s、,，]+[\u4e00-\u9fff]{2,4})*"
BARE_BYLINE = re.compile(both_scripts(
    rf"^(?:(?:本报记者|记者|通讯员|作者)[\s:：]*{_NAMES}\s*)+$"))
LEAD_IN = re.compile(both_scripts(
    r"^(?P<outlet>[^，。,;；“”]{0,30}?)[讯电]\s*[(（](?P<credit>[^()（）]*(记者|通讯员|作者|实习生)[^()（）]*)[)）]\s*"))
TRAILING_CREDIT = re.compile(r"(?<=[。！？!?”])\s*[(（](?P<credit>[\u4e00-\u9fff]{2,4}(?:[\s、,，][\u4e00-\u9fff]{2,4}){0,3})[)）]\s*$")
CREDIT_ONLY = re.compile(r"^[(（](?P<credit>[\u4e00-\u9fff\s、,，]{2,20})[)）]$")
AFFILIATION = re.compile(both_scripts(r"^[(（]?\s*作者单位\s*[:：]"))
COLUMN_LABEL = re.compile(r"^[\u4e00-\u9fff]{2,8}$")
NOT_NAMES = {"完", "待续", "未完待续", "全文完", "续完"}  # '（完）' ends an article, it does not sign it
TERMINAL = "。！？!?…”"
_TITLE_MAX = 60
_META_LINE_MAX = 150
_LEAD_PARAGRAPHS = 3


def _names(credit: str) -> list[str]:
    """Person names in a credit: role words dropped, spaced-out names ('黃 凰') joined."""
    names = []
    for chunk in ROLE.split(credit):
        chunk = chunk.strip(" :：/()（）")
        if not chunk:
            continue
        tokens = [t for t in re.split(r"[\s、,，;；]+", chunk) if t]
        if tokens and all(len(t) == 1 for t in tokens):
            tokens = ["".join(tokens)]
        names += [t for t in tokens if not ROLE.fullmatch(t)]
    return names


def _fields(text: str) -> dict[str, str]:
    """Folded label -> value for a line like '发布时间：… 来源：… 责任编辑：…'."""
    matches = list(LABEL.finditer(text))
    values = {}
    for match, following in zip(matches, matches[1:] + [None]):
        value = text[match.end():following.start() if following else len(text)].strip()
        values.setdefault(fold(match.group(1)), value.strip(" 【】[]|｜"))
    return values


def _is_meta_line(text: str) -> bool:
    if len(text) > _META_LINE_MAX:
        return False
    labels = list(LABEL.finditer(text))
    return bool(labels) and (labels[0].start() == 0 or len(labels) >= 2)


def _title_like(paragraph: Paragraph) -> bool:
    """A first line that is a headline: short, no sentence end, not a metadata line."""
    text = paragraph.text.strip()
    return (0 < len(text) <= _TITLE_MAX and text[-1] not in TERMINAL and not text.startswith("—")
            and not _is_meta_line(text) and not BYLINE.match(text) and not BARE_BYLINE.match(text))


def _named_title(doc: Document) -> str | None:
    """The title the site itself names outside the text: the list page's link text, else the h1."""
    for value in (doc.hints.get("list_title"), doc.page_meta.get("h1")):
        if value and value.strip():
            return strip_pinyin(value.strip())[0]
    return None


def _window_title(doc: Document) -> str | None:
    """The <title> without the site name after '_', '|' or a dash."""
    title = strip_pinyin(doc.page_meta.get("title") or "")[0].strip()
    return re.split(r"\s*(?:[_|]|-{1,2}|—{1,2})\s*", title)[0] or None if title else None


def _same_title(line: str, named: str) -> bool:
    """A list title is often cut short ('…'); an h1 may carry a prefix: containment is enough."""
    line, named = compact(line), compact(named).rstrip(".…")
    return bool(named) and (named in line or line in named)


def _credible(names: list[str]) -> bool:
    """Person names: one to six of two to four characters ('□ 加强质量诚信建设' is a bullet, not a byline)."""
    return 0 < len(names) <= 6 and all(2 <= len(n) <= 4 for n in names)


class _Reader:
    """Reads the paragraphs, marking metadata lines and collecting their values."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.paragraphs = list(doc.paragraphs)
        self.values: dict[str, str] = {}
        self.authors: list[str] = []
        self.dates: list[str] = []

    def mark(self, i: int, kind: str, reason: str) -> None:
        self.paragraphs[i] = self.paragraphs[i].mark(kind, reason)

    def body_indexes(self) -> list[int]:
        return [i for i, p in enumerate(self.paragraphs) if p.kind == "body"]

    def title(self) -> int | None:
        """Find the title; mark its line and return the line's index when it is in the text.

        The h1 line wins; then a headline-like first line, unless the site
        names a different title (list link text, page h1) — then that one;
        the <title> is the last resort.  No title at all: ``derive_title``.
        """
        body = self.body_indexes()
        named = _named_title(self.doc)
        tagged = [i for i in body if self.paragraphs[i].tag == "h1"]
        first = body[0] if body and _title_like(self.paragraphs[body[0]]) else None
        if first is not None and named and not _same_title(self.paragraphs[first].text, named):
            first = None
        index = tagged[0] if tagged else first
        if index is not None:
            self.values["title"] = self.paragraphs[index].text.strip()
            self.mark(index, "meta", "title")
            return index
        title = named or _window_title(self.doc)
        if title:
            self.values["title"] = title
        return None

    def subtitle(self, title_index: int | None) -> None:
        """A '——' line (or an h2) right after the title."""
        after = [i for i in self.body_indexes() if title_index is not None and i > title_index][:1]
        if after:
            paragraph = self.paragraphs[after[0]]
            text = paragraph.text.strip()
            if (text.startswith("—") or paragraph.tag in ("h2", "h3")) and len(text) <= 2 * _TITLE_MAX:
                self.values["subtitle"] = text
                self.mark(after[0], "meta", "subtitle")

    def lines(self) -> None:
        """Metadata lines, bylines, affiliations and the column label under the metadata line."""
        after_meta = False
        for i in self.body_indexes():
            text = self.paragraphs[i].text.strip()
            folded = fold(text)
            if _is_meta_line(text) or self.paragraphs[i].tag == "meta-line" and LABEL.search(text):
                self._take_fields(_fields(text))
                self.dates += [m.group(0) for m in DATE.finditer(text[:LABEL.search(text).start()])]
                self.mark(i, "meta", "metadata line")
                after_meta = True
            elif ((byline := BYLINE.match(text)) or BARE_BYLINE.match(text)) and \
                    _credible(names := _names(byline.group("credit") if byline else text)):
                self.authors += names
                self.mark(i, "byline", "byline")
            elif AFFILIATION.match(folded) and len(text) <= _META_LINE_MAX:
                self.mark(i, "meta", "author affiliation")
            elif after_meta and COLUMN_LABEL.match(text) and "section" not in self.values:
                self.values["section"] = text
                self.mark(i, "meta", "column label")
            else:
                after_meta = False

    def _take_fields(self, fields: dict[str, str]) -> None:
        for label, value in fields.items():
            if not value:
                continue
            if label in DATE_LABELS:
                self.dates.append(value)
            elif label in SOURCE_LABELS:
                self.values.setdefault("source_name", value)
            elif label in EDITOR_LABELS:
                self.values.setdefault("editor", join_han_spaces(value))
            elif label in AUTHOR_LABELS:
                self.authors += _names(value)

    def lead_in(self) -> None:
        """'荆楚网(湖北日报网)讯(记者张城 通讯员何金城)' opening a paragraph: credit out, text kept."""
        for i in self.body_indexes()[:_LEAD_PARAGRAPHS]:
            paragraph = self.paragraphs[i]
            match = LEAD_IN.match(paragraph.text)
            if match:
                self.authors += _names(match.group("credit"))
                rest = paragraph.text[match.end():].strip()
                self.paragraphs[i] = Paragraph(rest, paragraph.kind, paragraph.reason, paragraph.tag,
                                               paragraph.link_density)
                return

    def trailing_credit(self) -> None:
        """'…透明度。(高云)' or a last line '（高云）': the author, out of the body."""
        body = self.body_indexes()
        if not body:
            return
        last = self.paragraphs[body[-1]]
        only = CREDIT_ONLY.match(last.text.strip())
        if only:
            self.authors += _names(only.group("credit"))
            self.mark(body[-1], "byline", "trailing author credit")
            return
        match = TRAILING_CREDIT.search(last.text)
        if match and fold(match.group("credit")) not in NOT_NAMES:
            self.authors += _names(match.group("credit"))
            self.paragraphs[body[-1]] = Paragraph(last.text[:match.start()].rstrip(), last.kind, last.reason,
                                                  last.tag, last.link_density)


def extract_metadata(doc: Document) -> Document:
    """Title, subtitle, dates, source, editor, author and section into ``meta``; their lines out of the body."""
    reader = _Reader(doc)
    reader.subtitle(reader.title())
    reader.lines()
    reader.lead_in()
    reader.trailing_credit()
    values = reader.values
    meta_author = (doc.page_meta.get("author") or "").strip()
    authors = list(dict.fromkeys(join_han_spaces(a) for a in reader.authors if a)) or ([meta_author] if meta_author else [])
    published_at, published_raw = published_from(doc.page_meta, reader.dates, doc.url, doc.hints.get("list_date"))
    source_name = values.get("source_name") or doc.page_meta.get("source") or doc.page_meta.get("contentsource")
    return doc.with_paragraphs(reader.paragraphs).with_meta(
        title=values.get("title"),
        title_derived=False,
        subtitle=values.get("subtitle"),
        published_at=published_at,
        published_raw=published_raw,
        source_name=source_name,
        author=", ".join(authors) or None,
        editor=values.get("editor"),
        section=doc.page_meta.get("columnname") or values.get("section"),
    )


def derive_title(doc: Document) -> Document:
    """No title anywhere: the first sentence of the body stands in, flagged ``title_derived``."""
    if doc.meta.get("title"):
        return doc
    body = doc.body()
    if not body:
        return doc
    text = body[0].text.strip()
    sentence = re.split(r"(?<=[。！？!?])", text, maxsplit=1)[0]
    if len(sentence) > _TITLE_MAX:
        cut = max(sentence.rfind(mark, 0, _TITLE_MAX) for mark in "，,；;")
        sentence = sentence[:cut] if cut > 0 else sentence[:_TITLE_MAX]
    return doc.with_meta(title=sentence.rstrip("。，,；;：:"), title_derived=True).with_flag("title_derived")

