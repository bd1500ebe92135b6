"""HTML main-text stage: saved pages with their expected outcome (web-poet style), plus robustness.

Each folder under tests/fixtures/pages holds page.html (bytes as served) and expected.json:
  url, encoding (default utf-8), container (which rule must find the body: zjeg, cms:<name>, density), header [[text, tag]...] (the first paragraphs), trailer (the last ones),
  body_in_order (exact body paragraphs, in this order), body_count, absent (text no paragraph may contain),
  captions, tags {paragraph text: tag hint}, page_meta (key -> exact value).
"""
import json
import random
from pathlib import Path

import pytest

from pipelines.density import choose_ranges, title_index
from pipelines.document import Document
from pipelines.htmlblocks import segment
from pipelines.maintext import parse_html, html_to_document, read_page_meta

PAGES = Path(__file__).parent / "fixtures" / "pages"
CASES = sorted(p.name for p in PAGES.iterdir() if (p / "page.html").exists())
HEADER_TAGS = ("h1", "meta-line")


def load(case):
    expected = json.loads((PAGES / case / "expected.json").read_text(encoding="utf-8"))
    html = (PAGES / case / "page.html").read_bytes().decode(expected.get("encoding", "utf-8"))
    return html_to_document(html, expected["url"]), expected


def body_texts(doc):
    """Body paragraphs from the container (header/credit lines are the metadata step's business)."""
    return [p.text for p in doc.paragraphs if p.kind == "body" and p.tag not in HEADER_TAGS]


def test_every_case_has_expectations():
    assert len(CASES) >= 7
    for case in CASES:
        assert load(case)[1]["body_in_order"], case


@pytest.mark.parametrize("case", CASES)
def test_body_paragraphs_present_in_order(case):
    doc, expected = load(case)
    body = body_texts(doc)
    missing = [s for s in expected["body_in_order"] if s not in body]
    assert not missing, f"missing {missing}; got {body}"
    positions = [body.index(s) for s in expected["body_in_order"]]
    assert positions == sorted(positions)
    assert len(body) == expected["body_count"], body


@pytest.mark.parametrize("case", CASES)
def test_body_found_by_the_expected_rule(case):
    """CMS markers must win over density scoring; density must carry the unknown layouts."""
    _, expected = load(case)
    html = (PAGES / case / "page.html").read_bytes().decode(expected.get("encoding", "utf-8"))
    root = parse_html(html)
    walk = segment(root)
    _, how = choose_ranges(walk, title_index(walk.blocks, read_page_meta(root)))
    assert how == expected["container"]


@pytest.mark.parametrize("case", CASES)
def test_navigation_footer_and_related_links_absent(case):
    doc, expected = load(case)
    leaked = [(s, p.text) for s in expected["absent"] for p in doc.paragraphs if s in p.text]
    assert not leaked


@pytest.mark.parametrize("case", CASES)
def test_header_lines_come_first(case):
    doc, expected = load(case)
    header = [list(h) for h in expected.get("header", [])]
    assert [[p.text, p.tag] for p in doc.paragraphs[:len(header)]] == header
    assert all(p.kind == "body" for p in doc.paragraphs[:len(header)])


@pytest.mark.parametrize("case", [c for c in CASES if "trailer" in load(c)[1]])
def test_credit_lines_after_body(case):
    doc, expected = load(case)
    trailer = [list(t) for t in expected["trailer"]]
    assert [[p.text, p.tag] for p in doc.paragraphs[-len(trailer):]] == trailer


@pytest.mark.parametrize("case", CASES)
def test_captions_marked(case):
    doc, expected = load(case)
    captions = [p for p in doc.paragraphs if p.kind == "caption"]
    assert [p.text for p in captions] == expected.get("captions", [])
    assert all(p.reason == "photo caption" and p.tag == "figcaption" for p in captions)


@pytest.mark.parametrize("case", [c for c in CASES if "tags" in load(c)[1]])
def test_structural_tag_hints(case):
    doc, expected = load(case)
    tags = {p.text: p.tag for p in doc.paragraphs}
    assert {text: tags.get(text) for text in expected["tags"]} == expected["tags"]


@pytest.mark.parametrize("case", CASES)
def test_page_meta(case):
    doc, expected = load(case)
    assert {k: doc.page_meta.get(k) for k in expected["page_meta"]} == expected["page_meta"]
    assert all(k == k.lower() for k in doc.page_meta)


SIDEBAR = "".join(f"<p>第{i}条：各地市场监管部门要加强对重点工业产品的质量安全监管，落实企业主体责任，" 
                  f"防范系统性风险，确保人民群众生命财产安全。</p>" for i in range(8))


@pytest.mark.parametrize("container", [
    "<div class='TRS_UEDITOR trs_paper_default trs_web'>{}</div>", "<div id='UCAP-CONTENT'>{}</div>",
    "<div class='wp_articleContent'>{}</div>", "<font id='Zoom'>{}</font>", "<td class='con_nr'>{}</td>"])
def test_cms_container_wins_over_a_longer_sidebar(container):
    body = container.format("<p>本局抽查了十批次电线电缆产品，全部合格。</p>")
    html = f"<html><body><div class='side'>{SIDEBAR}</div><table><tr>{body}</tr></table></body></html>"
    assert body_texts(html_to_document(html)) == ["本局抽查了十批次电线电缆产品，全部合格。"]


def test_image_alt_text_is_a_caption_unless_it_is_a_file_name():
    html = ("<html><body><div id='zoom'><p>检查人员对餐饮单位进行了全面检查。</p>"
            "<p><img src='/1.jpg' alt='执法人员检查食品留样情况'></p><p><img src='/2.jpg' alt='IMG_2031'></p>"
            "<p><img src='/3.jpg' alt='DSC01234.JPG'></p></div></body></html>")
    assert [(p.text, p.kind) for p in html_to_document(html).paragraphs] == [
        ("检查人员对餐饮单位进行了全面检查。", "body"), ("执法人员检查食品留样情况", "caption")]


def test_empty_zjeg_markers_fall_back_to_the_page():
    html = ("<html><body><!--ZJEG_RSS.content.begin--><!--ZJEG_RSS.content.end-->"
            "<div id='zoom'><p>脚本模板之外的正文仍然可以找到。</p></div></body></html>")
    assert body_texts(html_to_document(html)) == ["脚本模板之外的正文仍然可以找到。"]


def test_document_carries_url_and_html():
    doc, expected = load("trs_editor")
    assert doc.url == expected["url"] and "TRS_Editor" in doc.html


def test_link_density_per_paragraph():
    html = ("<html><body><div class='TRS_Editor'><p>本次抽查结果详见<a href='/a.xls'>抽查结果公告附件</a>。</p>"
            "<p>抽查共涉及二十家企业的产品质量情况。</p></div></body></html>")
    linked, plain = html_to_document(html).paragraphs
    assert linked.link_density == round(8 / 17, 3)
    assert plain.link_density == 0.0


def test_related_list_inside_container_is_marked_not_dropped():
    html = ("<html><body><div id='zoom'><p>市场监管局通报了今年第一季度的产品质量抽查结果。</p>"
            "<div class='related'><ul><li><a href='/1'>去年抽查结果</a></li></ul></div></div></body></html>")
    doc = html_to_document(html)
    assert [p.kind for p in doc.paragraphs] == ["body", "boilerplate"]
    assert doc.paragraphs[1].reason == "inside related block"


def test_credit_line_in_a_footer_inside_the_body_stays_for_the_metadata_step():
    html = ("<html><body><div id='zoom'><p>市场监管局通报了今年第一季度的产品质量抽查结果。</p>"
            "<footer><p>责任编辑：王芳</p><p><a href='/s'>分享到微博</a></p></footer></div></body></html>")
    assert [(p.text, p.kind, p.tag) for p in html_to_document(html).paragraphs][1:] == [
        ("责任编辑：王芳", "body", "meta-line"), ("分享到微博", "boilerplate", None)]


def test_runs_of_link_lines_are_marked_but_attachments_stay_body():
    links = "".join(f"<p><a href='/{y}'>{y}年第4期</a></p>" for y in (2022, 2021, 2020))
    attachments = "".join(f"<p><a href='/f{i}.xls'>抽查结果{i}.xls</a></p>" for i in range(3))
    html = (f"<html><body><div class='TRS_Editor'><p>本期抽查结果见以下附件，请各单位及时查阅。</p>{attachments}"
            f"{links}</div></body></html>")
    kinds = [(p.text, p.kind) for p in html_to_document(html).paragraphs]
    assert kinds[:4] == [("本期抽查结果见以下附件，请各单位及时查阅。", "body"), ("抽查结果0.xls", "body"),
                         ("抽查结果1.xls", "body"), ("抽查结果2.xls", "body")]
    assert [k for _, k in kinds[4:]] == ["boilerplate"] * 3


def test_headline_inside_the_container_is_tagged():
    html = ("<html><head><title>质监局通报电梯检验结果_某市政府</title></head><body><div id='zoom'>"
            "<div class='bt'>质监局通报电梯检验结果</div><p>发布时间：2021-04-02 来源：特设科</p>"
            "<p>全市在用电梯定期检验合格率达到百分之九十九。</p></div></body></html>")
    assert [(p.text, p.tag) for p in html_to_document(html).paragraphs] == [
        ("质监局通报电梯检验结果", "h1"), ("发布时间：2021-04-02 来源：特设科", "meta-line"),
        ("全市在用电梯定期检验合格率达到百分之九十九。", None)]


# --- robustness -------------------------------------------------------------------------------

def test_truncated_html_keeps_what_arrived():
    html = (PAGES / "trs_editor" / "page.html").read_text(encoding="utf-8")
    cut = html[:html.index("经检验")]
    doc = html_to_document(cut)
    assert "近日，嘉兴市市场监管局组织开展电动自行车产品质量专项监督抽查，共抽查全市12家生产企业的48批次产品。" \
        in body_texts(doc)


@pytest.mark.parametrize("html", ["", "   \n\t", "<html></html>", "<!-- only a comment -->", "<html><body></body>"])
def test_empty_input_gives_empty_document(html):
    doc = html_to_document(html)
    assert isinstance(doc, Document) and doc.paragraphs == ()


def test_ten_thousand_deep_nesting_keeps_all_text():
    """libxml2 gives up at 2048 levels; the page is re-read flattened instead of losing its end."""
    deep = "<div>" * 10_000 + "深层文本" + "</div>" * 10_000
    html = (f"<html><body><div id='zoom'><p>市场监管局发布了最新的质量抽查结果通报。</p>{deep}"
            f"<p>抽查结果将在官网公开。</p></div></body></html>")
    body = body_texts(html_to_document(html))
    assert body[0] == "市场监管局发布了最新的质量抽查结果通报。" and body[-1] == "抽查结果将在官网公开。"
    assert "深层文本" in body


def test_thousands_of_unclosed_font_tags_keep_all_text():
    lines = "".join(f"<font color=red>第{i}段：抽查产品{i}批次，合格。<br>" for i in range(3000))
    doc = html_to_document(f"<html><body><div class='TRS_Editor'>{lines}</div></body></html>")
    assert len(body_texts(doc)) == 3000 and body_texts(doc)[-1] == "第2999段：抽查产品2999批次，合格。"


def test_nul_and_control_bytes_are_ignored():
    html = "<html><body><div class='TRS_Editor'><p>质量\x00抽查\x0b结果已经公布。</p></div></body></html>"
    doc = html_to_document(html)
    assert body_texts(doc) == ["质量抽查结果已经公布。"]


def test_binary_junk_does_not_raise():
    junk = bytes(random.Random(7).getrandbits(8) for _ in range(20_000)).decode("latin-1")
    assert isinstance(html_to_document(junk), Document)


def test_xml_declaration_with_encoding_is_accepted():
    html = "<?xml version='1.0' encoding='gbk'?><html><body><div id='zoom'><p>抽查结果公告。</p></div></body></html>"
    assert body_texts(html_to_document(html)) == ["抽查结果公告。"]


@pytest.mark.parametrize("value", [b"<html></html>", None, 42])
def test_non_text_input_raises_value_error(value):
    with pytest.raises(ValueError):
        html_to_document(value)
