from pipelines.dedupe import mark_repeats
from pipelines.document import Document, Paragraph


def test_later_copies_become_duplicates_of_the_first():
    doc = mark_repeats(Document(paragraphs=(
        Paragraph("甲段。"), Paragraph("乙段。"), Paragraph("甲段。"), Paragraph("乙段。"), Paragraph("丙段。"))))
    assert [(p.kind, p.reason) for p in doc.paragraphs] == [
        ("body", None), ("body", None), ("duplicate", "repeat of paragraph 0"),
        ("duplicate", "repeat of paragraph 1"), ("body", None)]


def test_whitespace_width_and_script_do_not_hide_a_repeat():
    doc = mark_repeats(Document(paragraphs=(Paragraph("质量 提升，服务企业。"), Paragraph("質量提升,服務企業。"))))
    assert doc.paragraphs[1].kind == "duplicate"


def test_captions_and_furniture_may_repeat():
    doc = mark_repeats(Document(paragraphs=(
        Paragraph("记者张城摄", kind="caption", reason="photo caption"), Paragraph("正文。"),
        Paragraph("记者张城摄", kind="caption", reason="photo caption"))))
    assert [p.kind for p in doc.paragraphs] == ["caption", "body", "caption"]


def test_marking_twice_changes_nothing():
    doc = mark_repeats(Document(paragraphs=(Paragraph("甲。"), Paragraph("甲。"), Paragraph("甲。"))))
    assert mark_repeats(doc) == doc
