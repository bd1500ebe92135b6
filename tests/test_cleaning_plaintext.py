import pytest

from pipelines.plaintext import text_to_document


def test_each_non_empty_line_is_a_paragraph_in_order():
    doc = text_to_document("标题\n\n  第一段。 \n\n\n第二段。\n", url="http://x/a.html")
    assert [p.text for p in doc.paragraphs] == ["标题", "第一段。", "第二段。"]
    assert doc.url == "http://x/a.html"
    assert all(p.kind == "body" and p.tag is None for p in doc.paragraphs)


def test_list_marker_is_stripped_and_recorded():
    doc = text_to_document("- 相关新闻一2023-06-20\n-\n——副标题")
    assert [(p.text, p.tag) for p in doc.paragraphs] == [("相关新闻一2023-06-20", "li"), ("——副标题", None)]


def test_rejects_bytes():
    with pytest.raises(ValueError):
        text_to_document(b"bytes")


def test_lone_surrogates_are_replaced():
    doc = text_to_document("質量\udcff提升")
    assert doc.paragraphs[0].text == "質量?提升"
