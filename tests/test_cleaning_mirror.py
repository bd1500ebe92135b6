"""Mirror damage is produced here the way the mirrors produce it, then repaired.

``annotate_bytes`` replays the mirror's byte-level pinyin replacement on GBK
bytes (matches may straddle two characters); ``lossy_decode`` replays its
decoder (an undecodable pair becomes '?' and swallows the next byte;
private-use pairs vanish).  Tests compare the repair with the clean source
text, so nothing here depends on a stored answer.
"""
import pytest

from pipelines.document import Document, Paragraph
from pipelines.mirror import find_sites, repair_mirror, repair_mojibake, strip_annotations, strip_pinyin


def annotate_bytes(text: str, readings: dict[str, str]) -> bytes:
    raw = text.encode("gb18030")
    for char, reading in readings.items():
        raw = raw.replace(char.encode("gb18030"), char.encode("gb18030") + f"({reading})".encode("gb18030"))
    return raw


def lossy_decode(raw: bytes) -> str:
    out, i = [], 0
    while i < len(raw):
        if raw[i] < 0x80:
            out.append(chr(raw[i]))
            i += 1
            continue
        try:
            char = raw[i:i + 2].decode("gb18030")
        except UnicodeDecodeError:
            out.append("?")
        else:
            if not 0xE000 <= ord(char) <= 0xF8FF:
                out.append(char)
        i += 2
    return "".join(out)


def repaired(damaged: str) -> str:
    pieces, _ = repair_mojibake(strip_pinyin(damaged)[0], traditional=True)
    assert [bad for _, bad in pieces] == [False]
    return strip_pinyin(pieces[0][0])[0]


def test_strip_pinyin_after_han_only():
    text, removed = strip_pinyin("湖北省纖維檢驗(yàn)局(以下簡(jiǎn)稱(chēng)省纖檢局)成立(2011-02-17)")
    assert text == "湖北省纖維檢驗局(以下簡稱省纖檢局)成立(2011-02-17)"
    assert removed == 3


def test_strip_pinyin_full_width_parentheses_and_idempotence():
    once, _ = strip_pinyin("企業（yè）質量(zhì)抽查(ABC)(Note)")
    assert once == "企業質量抽查(ABC)(Note)"
    assert strip_pinyin(once) == (once, 0)


@pytest.mark.parametrize("clean, readings", [
    ("貼身服務當地經濟發展。", {"數": "shù", "經": "jīng", "當": "dāng"}),
    ("荊楚網湖北日報網訊", {"請": "qǐng", "報": "bào", "網": "wǎng"}),
    ("針對不具備檢驗能力的項目,主動幫助企業", {"災": "zāi", "驗": "yàn", "項": "xiàng"}),
])
def test_straddling_annotation_is_repaired_from_its_pinyin(clean, readings):
    damaged = lossy_decode(annotate_bytes(clean, readings))
    assert "?" in damaged
    assert repaired(damaged) == clean


def test_lost_byte_at_sentence_boundary_restores_the_full_stop():
    clean = "實實在在為企業排憂解難。活動受到企業的熱烈歡迎"
    raw = clean.encode("gb18030")
    cut = raw.index("。".encode("gb18030"))
    damaged = clean[:clean.index("。")] + "?" + lossy_decode(raw[cut + 1:] + b"Z")[:-1]
    assert damaged != clean
    assert repaired(damaged) == clean


def test_surplus_byte_before_a_line_is_dropped():
    clean = "（作者單位：崇陽縣質監局）"
    damaged = "?" + lossy_decode(b"\xa1" + clean.encode("gb18030") + b"Z")[:-1]
    assert repaired(damaged) == clean


def test_genuine_question_marks_are_not_damage():
    for text in ("情況怎么樣?”“需要哪些支持?”專家說", "是什么意思?用戶賬戶控制怎么用", "真的嗎?"):
        assert find_sites(text, traditional=True) == []
        assert repair_mojibake(text, traditional=True) == ([(text, False)], 0)


def test_unrepairable_span_is_cut_out_and_the_rest_kept():
    text = "經過摸索,已將服務制度化、日?;D壳?,天津市質監系統已經抽調370名業務骨干。"
    pieces, count = repair_mojibake(text, traditional=True)
    assert count == 0
    assert [bad for _, bad in pieces] == [False, True, False]
    assert pieces[0][0].endswith("日") and pieces[2][0].startswith("天津市")


def test_repair_mirror_splits_paragraph_and_flags_document():
    damaged = "經過摸索,已將服務制度化、日?;D壳?,天津市質監系統已經抽調370名業務骨干。"
    doc = repair_mirror(Document(paragraphs=(Paragraph(damaged), Paragraph("相關閱讀", kind="boilerplate", reason="x"))))
    assert [p.kind for p in doc.paragraphs] == ["body", "garbled", "body", "boilerplate"]
    assert doc.paragraphs[1].reason
    assert "garbled" in doc.flags


def test_mostly_garbled_paragraph_is_garbled_whole():
    doc = repair_mirror(Document(paragraphs=(Paragraph("?;D壳?,日?;D壳"),)))
    assert [p.kind for p in doc.paragraphs] == ["garbled"]


def test_utf8_read_as_gbk_is_reversed():
    clean = "全省质量提升行动"
    damaged = clean.encode("utf-8").decode("gbk")
    doc = repair_mirror(Document(paragraphs=(Paragraph(damaged),)))
    assert doc.paragraphs[0].text == clean
    assert "mojibake_repaired" in doc.flags


def test_strip_annotations_flags_only_when_something_was_removed():
    doc = strip_annotations(Document(paragraphs=(Paragraph("質(zhì)量"), Paragraph("無注音"))))
    assert [p.text for p in doc.paragraphs] == ["質量", "無注音"] and doc.flags == ("pinyin_removed",)
    assert strip_annotations(doc).flags == ("pinyin_removed",)
    assert strip_annotations(Document(paragraphs=(Paragraph("無注音"),))).flags == ()


def test_clean_paragraph_in_the_other_script_is_not_mojibake():
    """A simplified headline and info line over a traditional body (seed 003 as a TRS page) stay as they are."""
    from pipelines.chain import extract_text

    traditional_body = "今年以來,湖北省襄陽市襄州區質量技術監督局圍繞服務經濟發展,不斷完善運行體制,扎實推進各項活動。"
    record = extract_text("襄州区质监局服务区域经济发展 推动质监能力建设上台阶\n"
                          "发布时间：2012-07-18 09:31 来源：襄州区质量技术监督局\n" + traditional_body * 3)
    kinds = [p["kind"] for p in record["paragraphs"]]
    assert "garbled" not in kinds and "garbled" not in record["flags"]
    assert record["title"] == "襄州区质监局服务区域经济发展 推动质监能力建设上台阶"


@pytest.mark.parametrize("traditional", [False, True])
def test_implausible_class_is_plausible_per_character(traditional):
    """_mostly_mojibake counts with a regex class built from ``plausible``; it is exactly its complement."""
    from pipelines.mirror import _implausible_han, plausible
    from pipelines.script import han_characters

    pattern = _implausible_han(traditional)
    assert [c for c in han_characters() if pattern.fullmatch(c)] == \
        [c for c in han_characters() if not plausible(c, traditional)]


def test_mostly_mojibake_agrees_with_counting_character_by_character():
    from pathlib import Path

    from pipelines.mirror import _MOJIBAKE_SHARE, _mostly_mojibake, plausible
    from pipelines.script import HAN

    def by_character(text, traditional):
        han = HAN.findall(text)
        return len(han) >= 6 and sum(not plausible(c, traditional) for c in han) > _MOJIBAKE_SHARE * len(han)

    seeds = Path(__file__).parent / "fixtures" / "seeds"
    lines = [line for p in sorted(seeds.glob("*.txt")) for line in p.read_text(encoding="utf-8").splitlines()]
    lines += ["鍏ㄧ渷甯傚満鐩戠鎵€", "湖北省纖維檢驗局推動質量提升", "讲讲讲讲讲讲", "质量", ""]
    for text in lines:
        for traditional in (False, True):
            assert _mostly_mojibake(text, traditional) == by_character(text, traditional), text[:20]


def test_find_sites_agrees_with_a_scan_of_every_character():
    from pathlib import Path

    from pipelines.mirror import ORPHAN, Site, _genuine_question

    def by_character(text, traditional):
        sites = []
        for i, char in enumerate(text):
            if char != "?":
                continue
            orphan = ORPHAN.match(text, i)
            if orphan:
                sites.append(Site(i, orphan.end(), orphan.group(1)))
            elif not _genuine_question(text, i, traditional):
                sites.append(Site(i, i + 1, None))
        return sites

    seeds = Path(__file__).parent / "fixtures" / "seeds"
    lines = [line for p in sorted(seeds.glob("*.txt")) for line in p.read_text(encoding="utf-8").splitlines()]
    lines += ["?開頭?(dì)中間?；末尾?", "??", "?", "", "没有问号"]
    assert sum(line.count("?") for line in lines) > 20
    for text in lines:
        for traditional in (False, True):
            assert find_sites(text, traditional) == by_character(text, traditional), text[:20]
