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
