"""Mark the page furniture that text extraction lets through as ``boilerplate``.

Regional news pages end with related-article lists, "hot pictures", stock
widgets, share/print controls and site footers; mirrors add headline lists with
dates.  None of it is the article, but it sits inside or right after the body
container.  Each rule matches the folded text (NFKC + simplified) so one rule
serves both scripts, and each marked paragraph says which rule fired.

Sources repeat their own furniture on every page; ``learn_template`` finds
those paragraphs from a sample of pages so ``mark_boilerplate`` can drop them
when the registry entry carries the learned set as ``source["template"]``.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from .dates import DATE
from .document import Document, Paragraph
from .script import compact, fold

# A heading after which the rest of the block is links, not article.
BLOCK_HEADING = re.compile(
    r"^[【\[]?(相关阅读|相关新闻|相关链接|相关文章|相关稿件|延伸阅读|推荐阅读|热图一览|热点推荐|热门推荐|热门文章|"
    r"猜你喜欢|为您推荐|精彩推荐|更多精彩|图片新闻|最新新闻|最新文章|上一篇|下一篇)[】\]]?[:：]?$")
KEYWORDS = re.compile(r"^(关键词|关键字|标签|tags?)\s*[:：]", re.I)
STOCK_WIDGET = re.compile(r"股票名称|最新价.*涨跌|涨跌幅.*最新价")
CONTROLS = re.compile(r"打印本页|打印此页|关闭窗口|分享到|【打印】|【关闭】|\[打印\]|\[关闭\]|返回顶部|加入收藏|收藏本页|"
                      r"字号\s*[:：]?\s*[大中小]|【字体|扫一扫|在手机上打开|用手机看|微信扫一扫")
FOOTER = re.compile(r"版权所有|ICP备|ICP证|网站标识码|主办单位|承办单位|技术支持\s*[:：]|公网安备|copyright|©", re.I)
# FOOTER in two: re.I costs the regex its quick skip to where a match can start, and only three alternatives
# have letters; those need a 备, 证 or g to match at all (a test checks that split against FOOTER).
_FOOTER_UNCASED = re.compile(r"版权所有|网站标识码|主办单位|承办单位|技术支持\s*[:：]|公网安备|©")
_FOOTER_CASED = re.compile(r"ICP备|ICP证|copyright", re.I)
DATED_HEADLINE = re.compile(r"[(（\[【]?\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(\s+\d{1,2}:\d{2}(:\d{2})?)?\s*[)）\]】]?$")
# Every alternative starts with a plain character, so the regex engine skips ahead to where one could match.
CREDIT_LABEL = re.compile(r"责任编辑|责编|编辑\s*[:：]|来源\s*[:：]|作者\s*[:：]|时间\s*[:：]|日期\s*[:：]|发布时间|发布日期|"
                          r"发表时间")
_SHORT = 60  # controls and dated headlines are short lines; prose is not
_FOOTER_MAX = 200
_HEADLINE_MAX = 80
_HEADLINE_MIN = 4  # characters of words before the date
_LINKED = 0.5  # link share of a headline list entry
WORD = re.compile(r"[^\W\d_]", re.UNICODE)


def _rule(paragraph: Paragraph, from_markup: bool) -> str | None:
    """The reason a single paragraph is furniture, or None.

    A dated line is a headline list entry when it is a list item or, in
    HTML, a link ('原创：39健康网2024-04-23 12:27' under the headline is
    plain text: the article's own info line); plain text has no links, so
    there any unpunctuated headline-and-date line is one.
    """
    text = fold(paragraph.text).strip()
    if KEYWORDS.match(text) and len(text) <= _SHORT:
        return "keywords line"
    if STOCK_WIDGET.search(text):
        return "stock quote widget"
    # Length tests first: they are free, and long paragraphs (most of the body) then skip the regexes.
    if len(text) <= _SHORT and CONTROLS.search(text) and not DATE.search(text):
        return "share/print controls"
    if len(text) <= _FOOTER_MAX and _footer(text):
        return "site footer"
    if len(text) <= _HEADLINE_MAX and (dated := DATED_HEADLINE.search(text)) and _headline(text[:dated.start()]) \
            and (paragraph.tag == "li" or (paragraph.link_density >= _LINKED if from_markup else "。" not in text)):
        return "headline-with-date list"
    return None


def _footer(text: str) -> bool:
    """``bool(FOOTER.search(text))``."""
    if _FOOTER_UNCASED.search(text):
        return True
    return ("备" in text or "证" in text or "g" in text or "G" in text) and _FOOTER_CASED.search(text) is not None


def _headline(text: str) -> bool:
    """Words before the date: a bare date line ('2024-05-20 06:48') is the article's own, not a list entry."""
    return len(WORD.findall(text)) >= _HEADLINE_MIN


def _is_credit(paragraph: Paragraph) -> bool:
    """Credit and date lines (责任编辑, 发布时间…) belong to the metadata step, even with a 字号 control."""
    return paragraph.tag == "meta-line" or bool(CREDIT_LABEL.search(fold(paragraph.text)))


def mark_boilerplate(doc: Document) -> Document:
    """Mark furniture paragraphs; after a related-links heading, the rest of the block too."""
    template = doc.source.get("template") or frozenset()
    from_markup = doc.html is not None
    out, in_block = [], False
    for paragraph in doc.paragraphs:
        if paragraph.kind != "body":
            out.append(paragraph)
            continue
        text = fold(paragraph.text).strip()
        if BLOCK_HEADING.match(text):
            in_block = True
            out.append(paragraph.mark("boilerplate", "related-articles heading"))
        elif in_block and not _is_credit(paragraph):
            out.append(paragraph.mark("boilerplate", "inside related-articles block"))
        elif not _is_credit(paragraph) and (reason := _rule(paragraph, from_markup)) is not None:
            out.append(paragraph.mark("boilerplate", reason))
        elif template and compact(paragraph.text) in template:
            out.append(paragraph.mark("boilerplate", "recurs on most pages of this source"))
        else:
            out.append(paragraph)
    return doc.with_paragraphs(out)


def learn_template(pages_texts: Iterable[Iterable[str]], min_share: float = 0.5, min_pages: int = 5) -> frozenset[str]:
    """Paragraphs that recur on at least ``min_share`` of one source's pages.

    ``pages_texts`` holds the paragraph texts of each page.  Returns their
    comparison keys (``script.compact``), the form ``mark_boilerplate`` looks
    up in ``source["template"]``; empty below ``min_pages`` pages, where
    "recurring" means little.
    """
    pages = [{compact(t) for t in texts if t and t.strip()} for texts in pages_texts]
    if len(pages) < min_pages:
        return frozenset()
    counts = Counter(key for page in pages for key in page)
    return frozenset(key for key, n in counts.items() if key and n >= min_share * len(pages))
