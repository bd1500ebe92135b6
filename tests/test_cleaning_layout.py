from pipelines.document import Document, Paragraph
from pipelines.layout import mark_captions_and_headings, rejoin_lines

LONG = "通城县质监局局长柳旭阳、副局长黎逢林多次深入申报企业进行实地调研,积极指导企业,及时要求企业进行补充,同时又提"


def texts(doc):
    return [p.text for p in doc.paragraphs]


def test_broken_sentence_is_rejoined():
    doc = rejoin_lines(Document(paragraphs=(Paragraph(LONG), Paragraph("高申报资料的质量,奠定了基础。"))))
    assert texts(doc) == [LONG + "高申报资料的质量,奠定了基础。"]


def test_rejoin_is_idempotent_and_leaves_headings_alone():
    doc = Document(paragraphs=(Paragraph("全方位服务企业 加强标准化建设"), Paragraph(LONG + "高。"),
                               Paragraph(LONG), Paragraph("深层次加强建设 打造高效能团队")))
    once = rejoin_lines(doc)
    assert once == doc and rejoin_lines(once) == once


def test_rejoin_never_crosses_a_dropped_paragraph():
    doc = Document(paragraphs=(Paragraph(LONG), Paragraph("?;D壳?,", kind="garbled", reason="x"), Paragraph("天津市。")))
    assert rejoin_lines(doc) == doc


def test_credit_captions_and_bare_lines():
    doc = mark_captions_and_headings(Document(paragraphs=(
        Paragraph("省纖檢局與荊州市沙市區人民政府簽訂戰略合作協議。通訊員供圖"),
        Paragraph("擔當作為 深化質量共治"),
        Paragraph(LONG + "。"),
        Paragraph("领导调研茶叶种植标准化示范区"),
        Paragraph("市政府质量奖现场评审"),
        Paragraph("——紧跟政府工作中心,推进质量兴区战略。"),
        Paragraph(LONG + "。"),
        Paragraph("标准化宣贯培训"),
    )))
    assert [(p.kind, p.reason) for p in doc.paragraphs] == [
        ("caption", "photo caption"), ("heading", "section heading"), ("body", None),
        ("caption", "photo caption (short line among pictures)"), ("caption", "photo caption (short line among pictures)"),
        ("heading", "section lead line"), ("body", None), ("caption", "photo caption (short line among pictures)")]


def test_figcaption_tag_is_a_caption_and_fragments_next_to_garbled_stay_body():
    doc = mark_captions_and_headings(Document(paragraphs=(
        Paragraph("会场一角", tag="figcaption"), Paragraph("技術機構檢驗"),
        Paragraph("?zāi)芰退", kind="garbled", reason="x"), Paragraph(LONG + "。"))))
    assert [p.kind for p in doc.paragraphs] == ["caption", "body", "garbled", "body"]


def test_numbered_short_items_stay_in_the_body():
    doc = mark_captions_and_headings(Document(paragraphs=(
        Paragraph("一、加强组织领导"), Paragraph("二、完善工作制度"), Paragraph("三、强化督查考核"))))
    assert [p.kind for p in doc.paragraphs] == ["body", "body", "body"]


def test_short_prose_line_broken_at_a_comma_is_rejoined_but_a_photo_credit_is_not():
    doc = rejoin_lines(Document(paragraphs=(
        Paragraph("经查，该窝点一直从事燃气灶具生产，产品主要销往农村市场，"), Paragraph("货值金额共计8.6万元。"),
        Paragraph("省纖檢局開展的“陽光纖檢進社區”活動。記者張城攝"), Paragraph("“你好!這批服裝輔料需要加急檢驗。”"))))
    assert texts(doc) == ["经查，该窝点一直从事燃气灶具生产，产品主要销往农村市场，货值金额共计8.6万元。",
                          "省纖檢局開展的“陽光纖檢進社區”活動。記者張城攝", "“你好!這批服裝輔料需要加急檢驗。”"]


def test_table_cells_are_data_and_strong_lines_are_headings():
    doc = mark_captions_and_headings(Document(paragraphs=(
        Paragraph("二、重点产品", tag="strong"), Paragraph(LONG + "。"),
        Paragraph("产品类别", tag="td"), Paragraph("批次", tag="td"))))
    assert [p.kind for p in doc.paragraphs] == ["heading", "body", "body", "body"]


def test_info_line_is_not_joined_to_the_lead_paragraph():
    lead = "今年是中法建交60周年。60年来，中法双方独立自主、互利共赢，经贸合作广度深度不断拓展。"
    for info in ("2024-05-13 06:15", "2024-05-13 06:16发布于北京经济日报官方账号"):
        doc = Document(paragraphs=(Paragraph(info, tag="meta-line"), Paragraph(lead)))
        assert rejoin_lines(doc) == doc


def test_english_paragraphs_are_not_broken_lines():
    doc = Document(paragraphs=(
        Paragraph("Google's long-gestating foray into gaming has finally arrived as the tech giant's game "
                  "streaming service, Stadia, launched Tuesday morning."),
        Paragraph('"Stadia has been built from the ground up to be a cloud platform," Jack Buser, director '
                  "for games at Google, tells The Hollywood Reporter."),
        Paragraph("Stadia is launching with 22 games (the addition of 10 extra titles was announced over the weekend)")))
    assert rejoin_lines(doc) == doc


def test_html_paragraphs_join_only_where_the_break_shows():
    """A leading '。' or a long prose line cut between two Han characters; not a short unpunctuated line."""
    doc = Document(html="<html></html>", paragraphs=(
        Paragraph("继续折腾奔波或许追逐冠军梦想，已经成为他最大的动力"),
        Paragraph("。我们有理由相信，只要丁俊晖愿意，斯诺克大满贯指日可待。"),
        Paragraph("朋友拿到ChatGPT后的第一个痛点就是：用的不好"),
        Paragraph("你经常会感觉到ChatGPT回答的好空，没有太多参考价值。"),
        Paragraph(LONG), Paragraph("高申报资料的质量,奠定了基础。")))
    assert texts(rejoin_lines(doc)) == [
        "继续折腾奔波或许追逐冠军梦想，已经成为他最大的动力。我们有理由相信，只要丁俊晖愿意，斯诺克大满贯指日可待。",
        "朋友拿到ChatGPT后的第一个痛点就是：用的不好", "你经常会感觉到ChatGPT回答的好空，没有太多参考价值。",
        LONG + "高申报资料的质量,奠定了基础。"]


def test_html_bare_lines_are_not_guessed_to_be_captions():
    lines = (Paragraph("SolVES模型的生态系统社会价值评估代做"), Paragraph("1107436458 某鹅 说明来处"))
    assert [p.kind for p in mark_captions_and_headings(Document(html="<p></p>", paragraphs=lines)).paragraphs] == [
        "body", "body"]
    assert [p.kind for p in mark_captions_and_headings(Document(paragraphs=lines)).paragraphs] == [
        "caption", "caption"]
