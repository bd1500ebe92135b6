from pipelines.boilerplate import learn_template, mark_boilerplate
from pipelines.document import Document, Paragraph
from pipelines.script import compact


def kinds(doc):
    return [(p.kind, p.reason) for p in doc.paragraphs]


def doc_of(*texts, tag=None, source=None):
    return Document(paragraphs=tuple(Paragraph(t, tag=tag) for t in texts), source=source or {})


def test_related_heading_turns_the_rest_of_the_block_into_boilerplate():
    doc = mark_boilerplate(doc_of("正文第一段。", "相關閱讀", "比去年增加6600人 武漢8.56萬人今日中...", "任意一行"))
    assert [k for k, _ in kinds(doc)] == ["body", "boilerplate", "boilerplate", "boilerplate"]
    assert kinds(doc)[1][1] == "related-articles heading"


def test_credit_line_after_a_related_block_is_left_for_metadata():
    doc = mark_boilerplate(doc_of("正文。", "热图一览", "责任编辑：张三"))
    assert [k for k, _ in kinds(doc)] == ["body", "boilerplate", "body"]


def test_dated_headlines_stock_widget_controls_footer_keywords():
    doc = mark_boilerplate(Document(paragraphs=(
        Paragraph("廈門今起三天或仍有熱雷雨 氣溫持續偏高2023-06-20", tag="li"),
        Paragraph("質檢總局:嚴厲打擊添加非食用物質違法行為(2011-02-18)", tag="li"),
        Paragraph("股票名稱 最新價 漲跌幅"),
        Paragraph("【打印本页】【关闭窗口】分享到："),
        Paragraph("版权所有：某某市市场监督管理局 鄂ICP备12345678号 网站标识码4200000001"),
        Paragraph("關鍵詞:"),
    )))
    assert [r for _, r in kinds(doc)] == ["headline-with-date list", "headline-with-date list", "stock quote widget",
                                          "share/print controls", "site footer", "keywords line"]


def test_prose_and_metadata_lines_with_dates_stay():
    doc = mark_boilerplate(Document(paragraphs=(
        Paragraph("發布時間:2016-04-18 08:32:30 來源:中國質量報 責任編輯:羅伯特", tag="li"),
        Paragraph("會議于2023-06-20召開,與會人員就質量提升工作進行了深入討論。"),
    )))
    assert [k for k, _ in kinds(doc)] == ["body", "body"]


def test_non_body_paragraphs_are_not_touched():
    doc = mark_boilerplate(Document(paragraphs=(Paragraph("相关阅读", kind="caption", reason="photo caption"),
                                                Paragraph("正文。"))))
    assert kinds(doc) == [("caption", "photo caption"), ("body", None)]


def test_learn_template_returns_paragraphs_recurring_on_enough_pages():
    pages = [["網站首頁 > 工作動態", f"第{i}篇正文。", "主辦：某局"] for i in range(6)]
    pages[0] = ["第0篇正文。"]
    template = learn_template(pages, min_share=0.8, min_pages=5)
    assert template == frozenset({compact("网站首页 > 工作动态"), compact("主办:某局")})
    assert learn_template(pages[:4], min_pages=5) == frozenset()


def test_template_from_source_marks_recurring_paragraphs():
    template = learn_template([["網站首頁 > 工作動態", f"正文{i}。"] for i in range(5)])
    doc = mark_boilerplate(doc_of("网站首页 > 工作动态", "正文九。", source={"template": template}))
    assert kinds(doc) == [("boilerplate", "recurs on most pages of this source"), ("body", None)]


def test_metadata_line_with_a_font_size_control_is_left_for_metadata():
    doc = mark_boilerplate(doc_of("发布日期：2023-06-20 信息来源：衢州市市场监督管理局 【字体：大 中 小】"))
    assert kinds(doc) == [("body", None)]


def test_controls_beside_a_date_leave_the_line_for_metadata():
    doc = mark_boilerplate(doc_of("2023-06-20 10:15 【打印本页】【关闭窗口】", "日期：2023-06-20 【字体：大 中 小】 【打印】",
                                  "【打印本页】【关闭窗口】"))
    assert [k for k, _ in kinds(doc)] == ["body", "body", "boilerplate"]


def test_a_bare_date_or_an_unlinked_info_line_is_not_a_dated_headline():
    html = "<html></html>"
    doc = mark_boilerplate(Document(html=html, paragraphs=(
        Paragraph("2024-05-20 06:48"),
        Paragraph("原创：39健康网2024-04-23 12:27:25", tag="h4"),
        Paragraph("质检总局：严厉打击添加非食用物质违法行为 2011-02-18", link_density=0.8))))
    assert [k for k, _ in kinds(doc)] == ["body", "body", "boilerplate"]
    assert [k for k, _ in kinds(mark_boilerplate(doc_of("2024-05-20 06:48", "质检总局：严厉打击违法行为 2011-02-18")))] == [
        "body", "boilerplate"]
