"""Move the article's metadata out of the text and into ``doc.meta``.

Pages carry title, date, source, editor and bylines as lines of text around
the body ("发布时间：… 来源：… 责任编辑：…", an unlabelled "2024-05-13 06:15",
"□ 黄 凰", "荆楚网讯（记者张城）", a trailing "（高云）").  This step reads them into the ``articles`` columns and
marks those lines ``meta``/``byline`` so they leave the body.  Every pattern is
written in simplified characters and widened to both scripts by
``script.both_scripts``; values keep the source's script.
"""
from __future__ import annotations

import re

from .boilerplate import CONTROLS
from .dates import DATE, published_from
from .document import Document, Paragraph
from .mirror import strip_pinyin
from .script import both_scripts, compact, fold, join_han_spaces

_LABEL_WORDS = ("发布时间|发布日期|发表时间|发稿时间|更新时间|信息来源|文章来源|稿件来源|本文来源|责任编辑|浏览次数|点击数|阅读次数|"
                "时间|日期|来源|编辑|责编|选稿|作者|记者|通讯员|撰稿|供稿|字号|字体")
LABEL = re.compile(both_scripts(rf"({_LABEL_WORDS})\s*[:：]\s*"))
_LONGEST_LABEL = max(len(word) for word in _LABEL_WORDS.split("|"))  # both_scripts keeps lengths
# Labels as folded (simplified) text, the form ``_fields`` reports them in.
DATE_LABELS = {"发布时间", "发布日期", "发表时间", "发稿时间", "更新时间", "时间", "日期"}
SOURCE_LABELS = {"信息来源", "文章来源", "稿件来源", "本文来源", "来源"}
EDITOR_LABELS = {"责任编辑", "编辑", "责编", "选稿"}
AUTHOR_LABELS = {"作者", "记者", "通讯员", "撰稿"}
ROLE = re.compile(both_scripts(r"本报记者|特约记者|实习生|记者|通讯员|作者|撰稿|文/|文图|图/|摄影"))
BYLINE = re.compile(r"^[□■◎○●]\s*(?P<credit>.{1,40})$")
# '本报记者 王乐文 方 敏', '新华社记者邹多为、唐诗凝、丁乐', '中青报·中青网记者 魏其濛 来源：中国青年报'
BARE_BYLINE = re.compile(both_scripts(
    r"^(?P<credit>[^\s:：，,。]{0,10}?(?:本报记者|特约记者|记者|通讯员|作者)[\s:：]*[\u4e00-\u9fff][\u4e00-\u9fff\s、,，]*?)"
    r"(?:\s+(?P<rest>(?:来源|编辑|责任编辑|责编)\s*[:：].*))?$"))
# '文/栗思', '文丨政能亮特约评论员 韩涵', '编辑/倪家宁': a role, a slash or bar, the names.
SLASH_CREDIT = re.compile(both_scripts(r"^(?P<role>文|撰文|作者|编辑|责编|责任编辑)\s*[/丨｜|]\s*(?P<credit>[^/丨｜|]{2,40})$"))
LEAD_IN = re.compile(both_scripts(
    r"^(?P<outlet>[^，。,;；“”]{0,30}?)[讯电]\s*[(（](?P<credit>[^()（）]{2,40})[)）]\s*"))
TRAILING_CREDIT = re.compile(r"(?<=[。！？!?”])\s*[(（](?P<credit>[\u4e00-\u9fff]{2,4}(?:[\s、,，][\u4e00-\u9fff]{2,4}){0,3})[)）]\s*$")
CREDIT_ONLY = re.compile(r"^[(（](?P<credit>[\u4e00-\u9fff\s、,，]{2,20})[)）]$")
AFFILIATION = re.compile(both_scripts(r"^[(（]?\s*作者单位\s*[:：]"))
BRACKETED = re.compile(r"^[\[【(（]\s*(?P<inner>[^\[\]【】()（）]+?)\s*[\]】)）]")
COLUMN_LABEL = re.compile(r"^[\u4e00-\u9fff]{2,8}$")
TITLE_SEPARATOR = re.compile(r"\s*(?:[_|]|-{1,2}|—{1,2})\s*")
NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")
LATIN_NAME = re.compile(r"[A-Z][A-Za-z'.-]+(?: [A-Z][A-Za-z'.-]+){1,3}")
# A credit token that names the newsroom or office, not a person: '新华社', '总台央视', '中青报·中青网',
# '中国科普网', '市场监管局', and after two characters '办公室', '质量科', '稽查支队' ('李科' is a name).
OUTLET = re.compile(both_scripts(
    r"(社|报|台|网|视|刊|站|媒体|杂志|频道|客户端|新闻|账号|局|委|办|厅|院|中心|政府|(?<=[\u4e00-\u9fff]{2})[室科处股队组部])$"))
TITLED_NAME = re.compile(both_scripts(
    r"(?:研究员|教授|讲师|博士|主任|部长|院长|所长|局长|处长|科长|书记|会长|主席|总监|经理|评论员|分析师)\s*"
    r"(?P<name>[\u4e00-\u9fff]{2,3})$"))
NOT_NAMES = {"完", "待续", "未完待续", "全文完", "续完", "佚名"}  # '（完）' ends an article; 佚名 is "unknown"
STAFF_CODE = re.compile(r"[\s_]*[A-Za-z]{1,4}\d{2,}$")  # '支全明 SF099', '李曦_NN2587': the CMS user code
TERMINAL = "。！？!?…”"
SENTENCE = re.compile(r"[。！？!?，,；;]")
_TITLE_MAX = 60
_META_LINE_MAX = 150
_INFO_LINE_MAX = 80
_LEAD_PARAGRAPHS = 3


def _names(credit: str, strict: bool = True) -> list[str]:
    """Person names in a credit.

    Role words and newsroom names go ('新华社记者…'), a name after a job title
    stays ('研究员徐占忱' -> 徐占忱), single characters in a row are one
    spaced-out name ('王乐文 方 敏' -> 王乐文, 方敏).  Any other token means the
    line is not a credit at all, so a strict reading returns nothing; a
    labelled value (作者：…) only loses that token.
    """
    names = []
    for chunk in ROLE.split(credit):
        tokens = [t for t in re.split(r"[\s、,，;；:：/()（）]+", chunk) if t]
        for token in _merge_single_characters(tokens):
            if _outlet(token) or fold(token) in NOT_NAMES:
                continue
            if NAME.fullmatch(token):
                names.append(token)
            elif titled := TITLED_NAME.search(token):
                names.append(titled.group("name"))
            elif strict:
                return []
    return names


def _merge_single_characters(tokens: list[str]) -> list[str]:
    """Bylines pad two-character names to the width of three: '方 敏' is one name, so is '黃 凰'."""
    merged: list[str] = []
    for token in tokens:
        if len(token) == 1 and merged and len(merged[-1]) == 1:
            merged[-1] += token
        else:
            merged.append(token)
    return merged


def _outlet(token: str) -> bool:
    return bool(OUTLET.search(fold(token.split("·")[-1])))


def _fields(text: str) -> tuple[dict[str, str], list[str]]:
    """Folded label -> value for a line like '发布时间：… 来源：… 责任编辑：…', and the dates found
    outside date labels ('来源：人民日报2024-05-13 08:49', '作者：涅阳城 2020年01月12日18:32').

    A value ends where share/print controls begin ('作者：南帆分享到：').
    """
    matches = list(LABEL.finditer(text))
    values, loose = {}, [m.group(0) for m in DATE.finditer(text[:matches[0].start()])] if matches else []
    for match, following in zip(matches, matches[1:] + [None]):
        label = fold(match.group(1))
        value = text[match.end():following.start() if following else len(text)]
        value = value[:control.start()] if (control := CONTROLS.search(fold(value))) else value
        if label not in DATE_LABELS and (date := DATE.search(value)):
            loose.append(date.group(0))
            value = value[:date.start()]
        values.setdefault(label, value.strip(" 【】[]|｜"))
    return values, loose


def _unwrapped(text: str) -> str:
    """'[ 责编：杨煜 ]', '（编辑：小何）返回搜狐，查看更多': the labelled credit inside the brackets."""
    match = BRACKETED.match(text)
    return match.group("inner") if match and LABEL.search(match.group("inner")) else text


def _label_reach(text: str) -> int | None:
    """How far into ``text`` a ``LABEL`` match can start at the earliest; None when none can.

    A match is a label of two to four characters, maybe spaces, a colon.  So there is none without a
    colon, and none starting more than four characters before the spaces in front of the first colon:
    ``LABEL.search`` from there finds what it finds from 0, without trying every character before."""
    colon, wide = text.find(":"), text.find("：")
    if colon < 0 or 0 <= wide < colon:
        colon = wide
    if colon < 0:
        return None
    while colon > 0 and text[colon - 1].isspace():  # str.isspace is exactly the \s of a str pattern
        colon -= 1
    return max(0, colon - _LONGEST_LABEL)


def _is_meta_line(text: str) -> bool:
    if len(text) > _META_LINE_MAX:
        return False
    reach = _label_reach(text)
    if reach is None:
        return False
    labels = list(LABEL.finditer(text, reach))
    return bool(labels) and (labels[0].start() == 0 or len(labels) >= 2)


def _info_line(paragraph: Paragraph, text: str, in_header: bool) -> bool:
    """A short line that is no sentence once share/print controls are gone, where info lines sit: tagged
    ``meta-line`` by the HTML stage ('阅读量340'), or with a date in the header or beside the controls
    ('2024-05-13 06:15', '2024-05-13 06:16发布于北京经济日报官方账号', '2023-06-20【打印本页】')."""
    folded = fold(text)
    placed = paragraph.tag == "meta-line" or bool(DATE.search(text)) and (in_header or bool(CONTROLS.search(folded)))
    if not placed:
        return False
    rest = CONTROLS.sub("", folded).strip()
    return 0 < len(rest) <= _INFO_LINE_MAX and not SENTENCE.search(rest)


def _byline(text: str) -> tuple[list[str], str | None]:
    """Names on a byline ('□ 黃 凰', '本报记者 王乐文 方 敏', '新华社记者邹多为、唐诗凝、丁乐') and the
    labelled fields that may follow them ('… 来源：中国青年报'); no names for any other line."""
    match = BYLINE.match(text) or BARE_BYLINE.match(text)
    names = _names(match.group("credit")) if match else []
    return (names, match.groupdict().get("rest")) if _credible(names) else ([], None)


def _title_like(paragraph: Paragraph) -> bool:
    """A first line that is a headline: short, no sentence end, no label ('来源：'), not a byline."""
    text = paragraph.text.strip()
    return (0 < len(text) <= _TITLE_MAX and text[-1] not in TERMINAL and not text.startswith("—")
            and not LABEL.search(text) and not _byline(text)[0])


def _site_parts(doc: Document) -> set[str]:
    """The <title> pieces after the headline: site and column names ('…--健康·生活--人民网')."""
    title = strip_pinyin(doc.page_meta.get("title") or "")[0]
    return {compact(part) for part in TITLE_SEPARATOR.split(title)[1:]} - {""}


def _named_title(doc: Document) -> str | None:
    """The title the site itself names outside the text: the list page's link text, else the h1
    (unless the h1 is the site or column name the <title> ends with)."""
    for value in (doc.hints.get("list_title"), doc.page_meta.get("h1")):
        if value and value.strip() and compact(value) not in _site_parts(doc):
            return strip_pinyin(value.strip())[0]
    return None


def _window_title(doc: Document) -> str | None:
    """The <title> without the site name after '_', '|' or a dash."""
    title = strip_pinyin(doc.page_meta.get("title") or "")[0].strip()
    return TITLE_SEPARATOR.split(title)[0] or None if title else None


def _same_title(line: str, named: str) -> bool:
    """A list title is often cut short ('…'); an h1 may carry a prefix: containment is enough."""
    line, named = compact(line), compact(named).rstrip(".…")
    return bool(named) and (named in line or line in named)


def _credible(names: list[str]) -> bool:
    """Person names: one to six of two to four characters ('□ 加强质量诚信建设' is a bullet, not a byline)."""
    return 0 < len(names) <= 6 and all(2 <= len(n) <= 4 for n in names)


def _meta_author(doc: Document, editor: str | None) -> list[str]:
    """<meta name=author> when it names a person.

    CMSs fill it as often with the editor ('青网新闻张毅' beside 责任编辑：张毅),
    an account id ('105464', 'sina_mobile') or the site itself ('网易' on
    '…_网易订阅', '中国科普网'); none of those is the article's author.
    """
    value = (doc.page_meta.get("author") or "").strip()
    key = compact(value)
    staff = {compact(v) for v in (editor, doc.page_meta.get("editor")) if v} - {""}
    if not key or re.search(r"[\d_@]", value) or any(s in key or key in s for s in staff) \
            or any(key in part for part in _site_parts(doc)):
        return []
    if LATIN_NAME.fullmatch(value):
        return [value]
    names = _names(value)
    return names if _credible(names) else []


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

        The h1 line wins, unless it only repeats the site or column name that
        the <title> ends with; then a headline-like first line, unless the site
        names a different title (list link text, page h1) — then that one;
        the <title> is the last resort.  No title at all: ``derive_title``.
        """
        site = _site_parts(self.doc)
        for i in self.body_indexes():
            if self.paragraphs[i].tag == "h1" and compact(self.paragraphs[i].text) in site:
                self.mark(i, "meta", "site or column name")
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
        """A '——' line (or an h2) right after the title; an info line (发布时间…) may stand between."""
        after = [i for i in self.body_indexes()
                 if title_index is not None and i > title_index and self.paragraphs[i].tag != "meta-line"][:1]
        if after:
            paragraph = self.paragraphs[after[0]]
            text = paragraph.text.strip()
            if (text.startswith("—") or paragraph.tag in ("h2", "h3")) and len(text) <= 2 * _TITLE_MAX:
                self.values["subtitle"] = text
                self.mark(after[0], "meta", "subtitle")

    def lines(self) -> None:
        """Metadata lines, bylines, date and info lines, affiliations, and the column label under the
        metadata line.  A date line without a label counts in the header (before the first line left
        in the body), where the HTML stage tagged it ``meta-line`` or beside print/share controls."""
        after_meta, in_header = False, True
        for i in self.body_indexes():
            paragraph = self.paragraphs[i]
            text = _unwrapped(paragraph.text.strip())
            names, rest = _byline(text)
            slash = SLASH_CREDIT.match(text)
            if _is_meta_line(text) or paragraph.tag == "meta-line" and LABEL.search(text):
                self._take_fields(text)
                self.mark(i, "meta", "metadata line")
                after_meta = True
            elif names:
                self.authors += names
                self._take_fields(rest or "")
                self.mark(i, "byline", "byline")
            elif slash and (kind_reason := self._take_slash_credit(slash)):
                self.mark(i, *kind_reason)
            elif AFFILIATION.match(fold(text)) and len(text) <= _META_LINE_MAX:
                self.mark(i, "meta", "author affiliation")
            elif _info_line(paragraph, text, in_header):
                self.dates += [m.group(0) for m in DATE.finditer(text)]
                self.mark(i, "meta", "date line" if DATE.search(text) else "page info line")
            elif after_meta and COLUMN_LABEL.match(text) and "section" not in self.values:
                self.values["section"] = text
                self.mark(i, "meta", "column label")
            else:
                after_meta = in_header = False

    def _take_fields(self, text: str) -> None:
        fields, loose = _fields(text)
        for label, value in fields.items():
            if not value:
                continue
            if label in DATE_LABELS:
                self.dates.append(value)
            elif label in SOURCE_LABELS:
                self.values.setdefault("source_name", value)
            elif label in EDITOR_LABELS:
                self.values.setdefault("editor", join_han_spaces(STAFF_CODE.sub("", value)))
            elif label in AUTHOR_LABELS:
                self.authors += _names(value, strict=False)
        self.dates += loose

    def _take_slash_credit(self, match: re.Match) -> tuple[str, str] | None:
        """'文/栗思' adds an author, '编辑/倪家宁' the editor; the line's (kind, reason), None without names."""
        names = _names(match.group("credit"), strict=False)
        if not _credible(names):
            return None
        if fold(match.group("role")) in EDITOR_LABELS:
            self.values.setdefault("editor", "、".join(names))
            return "meta", "metadata line"
        self.authors += names
        return "byline", "byline"

    def lead_in(self) -> None:
        """'荆楚网(湖北日报网)讯(记者张城 通讯员何金城)' or '新华社北京5月19日电（刘艺、杨吉）' opening a
        paragraph: credit out, text kept."""
        for i in self.body_indexes()[:_LEAD_PARAGRAPHS]:
            paragraph = self.paragraphs[i]
            match = LEAD_IN.match(paragraph.text)
            if match and _credible(names := _names(match.group("credit"))):
                self.authors += names
                rest = paragraph.text[match.end():].strip()
                self.paragraphs[i] = Paragraph(rest, paragraph.kind, paragraph.reason, paragraph.tag,
                                               paragraph.link_density)
                return

    def trailing_credit(self) -> None:
        """'…透明度。(高云)' or a last line '（高云）', '（总台央视记者 奚丹霓 张赛）': the author, out of the body.

        Portals sign off with the editor's name ('…掌声肯定。（郭旭）' above
        【责任编辑：郭旭】): that name leaves the body but is not the author.
        """
        body = self.body_indexes()
        if not body:
            return
        last = self.paragraphs[body[-1]]
        only = CREDIT_ONLY.match(last.text.strip())
        if only and _credible(names := _names(only.group("credit"))):
            self._add_signature(names)
            self.mark(body[-1], "byline", "trailing author credit")
            return
        match = TRAILING_CREDIT.search(last.text)
        if match and _credible(names := _names(match.group("credit"))):
            self._add_signature(names)
            self.paragraphs[body[-1]] = Paragraph(last.text[:match.start()].rstrip(), last.kind, last.reason,
                                                  last.tag, last.link_density)

    def _add_signature(self, names: list[str]) -> None:
        if [compact(n) for n in names] != [compact(self.values.get("editor") or "")]:
            self.authors += names


# Set in ``meta`` by extract_metadata: the lines it reads have left the body, so a second pass would only
# misread body lines as a title; it is a no-op instead (cleaning twice equals cleaning once).
READ = "metadata_read"


def extract_metadata(doc: Document) -> Document:
    """Title, subtitle, dates, source, editor, author and section into ``meta``; their lines out of the body."""
    if doc.meta.get(READ):
        return doc
    reader = _Reader(doc)
    reader.subtitle(reader.title())
    reader.lines()
    reader.lead_in()
    reader.trailing_credit()
    values = reader.values
    authors = list(dict.fromkeys(join_han_spaces(a) for a in reader.authors if a)) or \
        _meta_author(doc, values.get("editor"))
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
        **{READ: True},
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

