from pipelines.document import Document, Paragraph
from pipelines.metadata import derive_title, extract_metadata


def run(*texts, **kwargs):
    return extract_metadata(Document(paragraphs=tuple(Paragraph(t) for t in texts), **kwargs))


def kinds(doc):
    return [p.kind for p in doc.paragraphs]


def test_header_block_title_meta_line_column_label_and_spaced_byline():
    doc = run("質量興縣:做實就會有收獲", "發布時間:2016-04-18 08:32:30 來源:中國質量報 責任編輯:羅伯特",
              "業務探討", "□ 黃 凰", "近年來,崇陽縣質監局深入貫徹落實黨的十八大精神。")
    assert kinds(doc) == ["meta", "meta", "meta", "byline", "body"]
    meta = doc.meta
    assert meta["title"] == "質量興縣:做實就會有收獲" and meta["title_derived"] is False
    assert meta["published_at"] == "2016-04-18T08:32:30+08:00" and meta["published_raw"] == "2016-04-18 08:32:30"
    assert (meta["source_name"], meta["editor"], meta["section"], meta["author"]) == ("中國質量報", "羅伯特", "業務探討", "黃凰")


def test_subtitle_and_byline_with_roles():
    doc = run("质量兴县 标准先行", "——通城县质量技术监督局服务企业纪实", "□记者 傅辉 通讯员 何川", "近年来,通城县质监局全方位服务企业。")
    assert kinds(doc) == ["meta", "meta", "byline", "body"]
    assert doc.meta["subtitle"] == "——通城县质量技术监督局服务企业纪实"
    assert doc.meta["author"] == "傅辉, 何川"


def test_lead_in_credit_is_taken_and_the_rest_of_the_paragraph_kept():
    doc = run("標題一則", "荊楚網(湖北日報網)訊(記者張城 通訊員何金城)12月24日,湖北省纖維檢驗局工作人員接過申請單。")
    assert doc.paragraphs[1].text == "12月24日,湖北省纖維檢驗局工作人員接過申請單。"
    assert doc.meta["author"] == "張城, 何金城"


def test_trailing_credit_leaves_the_last_paragraph():
    doc = run("今年以來,襄州區質監局扎實推進各項工作,成效明顯。", "不斷提高服務的透明度。(高云)")
    assert doc.paragraphs[-1].text == "不斷提高服務的透明度。" and doc.meta["author"] == "高云"
    doc = run("標題", "全文到此。（完）")
    assert doc.paragraphs[-1].text == "全文到此。（完）" and doc.meta["author"] is None


def test_affiliation_line_is_meta():
    doc = run("標題", "正文一段。", "（作者單位：湖北省崇陽縣質監局）")
    assert doc.paragraphs[-1].kind == "meta" and doc.paragraphs[-1].reason == "author affiliation"


def test_first_line_that_is_prose_is_not_a_title():
    doc = run("今年以來,湖北省襄陽市襄州區質量技術監督局圍繞服務經濟目標,扎實推進各項活動,履行職責的重點工作實現了新突破。",
              "第二段。")
    assert kinds(doc) == ["body", "body"] and doc.meta["title"] is None
    derived = derive_title(doc)
    assert derived.meta["title"] and derived.meta["title_derived"] is True
    assert derived.meta["title"] in doc.paragraphs[0].text and "title_derived" in derived.flags


def test_page_signals_fill_what_the_text_lacks():
    doc = run("今年以來,湖北省襄陽市襄州區質量技術監督局扎實推進各項活動,履行職責的重點工作實現了新突破。",
              url="http://x/202101/t20210105_1.html",
              page_meta={"title": "質量工作新突破_襄州區政府", "columnname": "工作動態", "author": "王五"})
    assert doc.meta["title"] == "質量工作新突破"
    assert doc.meta["section"] == "工作動態" and doc.meta["author"] == "王五"
    assert doc.meta["published_at"] == "2021-01-05T00:00:00+08:00"
    assert derive_title(doc) == doc


def test_h1_tagged_paragraph_is_the_title_even_when_not_first():
    doc = extract_metadata(Document(paragraphs=(Paragraph("首页 > 新闻"), Paragraph("真正的标题", tag="h1"),
                                                Paragraph("正文内容很长,这里是第一句。"))))
    assert doc.meta["title"] == "真正的标题" and kinds(doc) == ["body", "meta", "body"]


def test_a_bullet_is_not_a_byline():
    doc = run("標題", "□ 加強質量誠信體系建設", "正文一段,內容很長。")
    assert doc.paragraphs[1].kind == "body" and doc.meta["author"] is None


def test_named_title_wins_over_a_different_first_line():
    doc = run("一、基本情况", "正文一段,內容很長。", hints={"list_title": "质量兴县 标准先行"})
    assert doc.meta["title"] == "质量兴县 标准先行" and doc.paragraphs[0].kind == "body"
    doc = run("质量兴县 标准先行", "正文一段,內容很長。", hints={"list_title": "质量兴县 标..."})
    assert doc.meta["title"] == "质量兴县 标准先行" and doc.paragraphs[0].kind == "meta"


def test_meta_line_with_an_unlabelled_date_and_controls():
    doc = extract_metadata(Document(paragraphs=(
        Paragraph("標題", tag="h1"), Paragraph("2009年11月03日 来源：稽查支队 点击数：356", tag="meta-line"),
        Paragraph("发布日期：2023-06-20 信息来源：衢州市市场监督管理局 【字体：大 中 小】"), Paragraph("正文。"))))
    assert doc.meta["published_at"] == "2009-11-03T00:00:00+08:00" and doc.meta["source_name"] == "稽查支队"
    assert [p.kind for p in doc.paragraphs] == ["meta", "meta", "meta", "body"]


def test_field_values_lose_control_brackets():
    doc = run("標題", "发布日期：2023-06-20 信息来源：衢州市市场监督管理局 【字体：大 中 小】", "正文。")
    assert doc.meta["source_name"] == "衢州市市场监督管理局"
