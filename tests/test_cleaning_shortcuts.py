"""The cleaning chain's shortcuts give what the plain formulation gives.

Several helpers skip a regex when a cheap test shows it cannot match, count
characters without making a string per character, or try a regex only where a
match can start (issue #8: the cleaning worker is the crawl's bottleneck).
Each test here sets a shortcut against the straightforward expression it
replaces, on random strings over an alphabet of the characters that matter to
it (seeded: a failure reproduces).
"""
import random
import re
import unicodedata
from dataclasses import replace

import opencc
import pytest

from pipelines import boilerplate, density, htmlblocks, layout, maintext, metadata, mirror, regions, script
from pipelines.document import Document, Paragraph

ROUNDS = 4000


def strings(alphabet, rounds=ROUNDS, longest=16, seed=8):
    rng = random.Random(seed)
    for _ in range(rounds):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


SPACES = ["\n", " ", "  ", "\u3000", "\t", "\r", "\xa0", "\u200b", "\ufeff", "\u2028", "\x1c"]


def test_normalize_and_visible_length():
    alphabet = SPACES + ["中", "文", "。", "，", "\uff0c", "a", "1", "-"]
    for text in strings(alphabet):
        joined = htmlblocks._CJK_BREAK.sub("", text) if "\n" in text else text
        assert htmlblocks.normalize(text) == htmlblocks._SPACE.sub(" ", joined).strip(), repr(text)
        assert htmlblocks._join_cjk_lines(text) == htmlblocks._CJK_BREAK.sub("", text), repr(text)
        assert htmlblocks._visible_length(text) == len(htmlblocks._SPACE.sub("", text)), repr(text)


def test_compact_count_han_and_is_traditional():
    alphabet = SPACES + ["質", "质", "量", "監", "监", "a", "，", "\u4dc0", "\u3400", "\uf900", "\U00020000"]
    for text in strings(alphabet):
        assert script.compact(text) == script.WHITESPACE.sub("", script.fold(text)), repr(text)
        assert script.count_han(text) == len(script.HAN.findall(text)), repr(text)
        expected = len(script._changed_by("t2s").findall(text)) > len(script._changed_by("s2t").findall(text))
        assert script.is_traditional(text) is expected, repr(text)


def test_annotation_regex_starting_at_the_parenthesis():
    alphabet = ["(", "（", ")", "）", "zhì", "liàng", "ā", "a", "ü", "中", "質", "行", "(xíng)", "(háng)", "?", " ", "\n"]
    for text in strings(alphabet, longest=12):
        assert mirror.strip_pinyin(text) == mirror.ANNOTATION.subn("", text), repr(text)


def test_mostly_mojibake_counts_implausible_characters_first():
    def plain(text, traditional):
        han = len(script.HAN.findall(text))
        if han < 6:
            return False
        return len(mirror._implausible_han(traditional).findall(text)) > mirror._MOJIBAKE_SHARE * han

    alphabet = ["的", "是", "質", "瑭", "鍏", "ㄧ", "渷", "a", "，"]
    for text in strings(alphabet, rounds=1500, longest=24):
        for traditional in (False, True):
            assert mirror._mostly_mojibake(text, traditional) is plain(text, traditional), repr(text)


def test_meta_line_search_starts_near_the_first_colon():
    def plain(text):
        if len(text) > metadata._META_LINE_MAX:
            return False
        labels = list(metadata.LABEL.finditer(text))
        return bool(labels) and (labels[0].start() == 0 or len(labels) >= 2)

    assert metadata._LONGEST_LABEL == max(len(m) for m in re.findall(r"[^|()]+", metadata._LABEL_WORDS))
    alphabet = [":", "：", " ", "\u3000", "\n", "来源", "來源", "发布时间", "點擊數", "责任编辑", "时", "间", "文", "a"]
    for text in strings(alphabet, longest=10):
        assert metadata._is_meta_line(text) is plain(text), repr(text)


def test_credit_caption_is_searched_at_the_end_only():
    alphabet = ["摄", "攝", "影", "供图", "图", "圖", "/", ":", "记者", "通讯员", "资料图片", "·", " ", "\n", "\t",
                "张", "城", "。", "a"]
    for text in strings(alphabet, longest=14):
        assert layout._ends_in_credit(text) is bool(layout.CREDIT_CAPTION.search(text)), repr(text)
    long_name = "图/" + " " * 30 + "张" * 12
    assert layout._ends_in_credit(long_name) and layout.CREDIT_CAPTION.search(long_name)


def test_footer_split_in_two():
    alphabet = ["版权所有", "ICP备", "icp证", "Icp", "COPYRIGHT", "copyright", "copyrigh", "©", "技术支持", "：", " ",
                "主办单位", "备", "证", "g", "G", "İ", "ı", "中"]
    for text in strings(alphabet, longest=6):
        assert boilerplate._footer(text) is bool(boilerplate.FOOTER.search(text)), repr(text)


def test_density_counts():
    alphabet = ["，", "。", ",", ".", ". ", ".\n", "!", "?", "、", "中", " ", "\u3000", "\n", "_", "|", "-", "–", "—",
                "a"]
    for text in strings(alphabet):
        assert density._punctuation(text) == len(density._PUNCT.findall(text)), repr(text)
        assert density._fold(text) == density._SPACES.sub("", text), repr(text)
        assert density._title_parts(text) == density._TITLE_SPLIT.split(text), repr(text)


def test_long_blocks_score_without_counting_their_weight():
    for text in ("中" * 300, "a" * 299 + "中", "，".join(["质量"] * 200), "a" * 300, "a" * 150 + " " * 10 + "中" * 150):
        block = htmlblocks.Block(text, 1, None)
        assert block.length >= density._FULL_WEIGHT
        counted = 1 + len(density._PUNCT.findall(text)) + min(density._weight(block) / 100, 3)
        assert density._block_score(block, density._FULL_WEIGHT) == counted


def test_region_normalize_reuses_fold():
    alphabet = ["(zhì)", "（zhì）", "(", "⑴", "質", "监", "局", "湖北", "縣", "ｱ", "a", " "]
    t2s = opencc.OpenCC("t2s")  # the reference: the conversion as regions.normalize always wrote it
    for text in strings(alphabet, longest=8):
        plain = t2s.convert(regions._PINYIN.sub("", unicodedata.normalize("NFKC", text)))
        assert regions.normalize(text) == plain, repr(text)


def test_context_word_regex_takes_the_first_listed_word():
    alphabet = list(regions.CONTEXT) + ["市场", "区域", "中", "a"]
    for text in strings(alphabet, longest=4):
        for end in range(len(text) + 1):
            first = next((w for w in regions.CONTEXT if text.startswith(w, end)), None)
            found = regions._CONTEXT.match(text, end)
            assert (found.group() if found else None) == first, (repr(text), end)


def test_site_bytes_cache_matches_the_computation():
    previous = "當".encode("gb18030")[:1]
    expected = []
    for value in range(0x40, 0xFF):
        try:
            char = bytes([previous[0], value]).decode("gb18030")
        except UnicodeDecodeError:
            continue
        if len(char) == 1 and "dì" in mirror._readings(char):
            expected.append((bytes([value]), 0))
    site = mirror.Site(0, 5, "dì")
    assert list(mirror._site_bytes(site, previous)) == expected and expected
    assert list(mirror._site_bytes(mirror.Site(0, 1, None), b"")) == \
        [(b"", 1)] + [(bytes([value]), 2) for value in range(0x81, 0xFF)]


def test_document_copies_equal_dataclasses_replace():
    paragraph = Paragraph("正文", tag="p", link_density=0.25)
    assert paragraph.mark("meta", "title") == replace(paragraph, kind="meta", reason="title")
    doc = Document(url="u", paragraphs=(paragraph,), meta={"a": 1}, flags=("x",))
    assert doc.with_meta(b=2) == replace(doc, meta={"a": 1, "b": 2})
    assert doc.with_flag("y") == replace(doc, flags=("x", "y"))
    assert doc.with_paragraphs([]) == replace(doc, paragraphs=())
    assert doc.meta == {"a": 1} and doc.paragraphs == (paragraph,)  # the original is untouched


@pytest.mark.parametrize("first", ["deep", "plain"])
def test_reused_parser_forgets_the_last_page(first):
    """One parser serves every page of a thread: its error log (the nesting check reads it) is per page."""
    deep = "<html><body>" + "<font>" * 3000 + "深处的正文。" + "</body></html>"
    plain = "<html><head><title>标题</title></head><body><p>第一段正文，足够长的一句话。</p></body></html>"
    pages = [deep, plain] if first == "deep" else [plain, deep]
    docs = [maintext.html_to_document(page) for page in pages]
    alone = [maintext.html_to_document(page) for page in reversed(pages)][::-1]
    assert [[p.text for p in d.paragraphs] for d in docs] == [[p.text for p in d.paragraphs] for d in alone]
    assert any("深处的正文" in p.text for d in docs for p in d.paragraphs)
