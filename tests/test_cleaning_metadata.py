import pytest

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


LEAD = "今年是中法建交60周年。60年来，中法双方独立自主、互利共赢，经贸合作广度深度不断拓展。"


def html_doc(*paragraphs, **kwargs):
    return extract_metadata(Document(html="<html></html>", paragraphs=tuple(paragraphs), **kwargs))


@pytest.mark.parametrize("line, published", [
    ("2024-05-20 06:48", "2024-05-20T06:48:00+08:00"),
    ("2024-05-13 06:16发布于北京经济日报官方账号", "2024-05-13T06:16:00+08:00"),
    ("2024年5月22日週三 上午8:21", "2024-05-22T08:21:00+08:00"),
    ("2024-05-09 22:30·新华社", "2024-05-09T22:30:00+08:00"),
])
def test_unlabelled_date_line_from_the_html_stage(line, published):
    doc = html_doc(Paragraph("中法经贸合作广度深度不断拓展", tag="h1"), Paragraph(line, tag="meta-line"), Paragraph(LEAD))
    assert doc.meta["published_at"] == published and kinds(doc) == ["meta", "meta", "body"]


def test_bare_date_line_counts_in_the_header_only():
    doc = run("中法经贸合作广度深度不断拓展", "2024-05-13 06:15", LEAD)
    assert doc.meta["published_at"] == "2024-05-13T06:15:00+08:00" and kinds(doc) == ["meta", "meta", "body"]
    doc = run("中法经贸合作广度深度不断拓展", LEAD, "2024-05-13 06:15")
    assert doc.meta["published_at"] is None and kinds(doc) == ["meta", "body", "body"]


def test_leftover_info_line_from_the_html_stage_is_meta():
    doc = html_doc(Paragraph("標題", tag="h1"), Paragraph("阅读量340", tag="meta-line"), Paragraph(LEAD))
    assert doc.paragraphs[1].kind == "meta"


def test_a_date_inside_another_field_is_the_date_not_part_of_the_value():
    doc = run("標題", "来源：人民日报2024-05-13 08:49", LEAD)
    assert doc.meta["source_name"] == "人民日报" and doc.meta["published_at"] == "2024-05-13T08:49:00+08:00"
    doc = run("標題", "作者：涅阳城 2020年01月12日18:32 浏览：272", LEAD)
    assert doc.meta["author"] == "涅阳城" and doc.meta["published_at"] == "2020-01-12T18:32:00+08:00"


def test_field_value_stops_at_share_controls():
    doc = run("標題", "时间：2024.05.11 来源：光明日报 作者：南帆分享到：", LEAD)
    assert (doc.meta["author"], doc.meta["source_name"]) == ("南帆", "光明日报")


def test_bracketed_editor_line_and_a_signature_before_it():
    doc = run("標題", "各国要联手抵制保护主义，实现“多赢”“共赢”。（钟才文）", "[ 责编：杨煜 ]",
              page_meta={"author": "杨煜", "editor": "杨煜"})
    assert (doc.meta["author"], doc.meta["editor"]) == ("钟才文", "杨煜")
    assert kinds(doc) == ["meta", "body", "meta"] and doc.paragraphs[1].text.endswith("“共赢”。")


def test_signature_that_is_the_editor_leaves_the_body_but_is_not_the_author():
    doc = run("標題", "为观众打造了一场沉浸式艺术体验，获得了观众的阵阵掌声肯定。（郭旭）", "【责任编辑：郭旭】",
              page_meta={"author": "郭旭"})
    assert (doc.meta["author"], doc.meta["editor"]) == (None, "郭旭")
    assert doc.paragraphs[1].text.endswith("掌声肯定。")


@pytest.mark.parametrize("line, author", [
    ("本报记者 王乐文 方 敏", "王乐文, 方敏"),
    ("新华社记者邹多为、唐诗凝、丁乐", "邹多为, 唐诗凝, 丁乐"),
    ("文/栗思", "栗思"),
    ("文丨政能亮特约评论员 韩涵", "韩涵"),
])
def test_bylines(line, author):
    doc = run("標題", line, LEAD)
    assert doc.meta["author"] == author and kinds(doc) == ["meta", "byline", "body"]


def test_byline_with_a_source_after_it_and_a_slash_editor():
    doc = run("標題", LEAD, "中青报·中青网记者 魏其濛 来源：中国青年报", "编辑/倪家宁")
    assert (doc.meta["author"], doc.meta["source_name"], doc.meta["editor"]) == ("魏其濛", "中国青年报", "倪家宁")
    assert kinds(doc) == ["meta", "body", "byline", "meta"]


def test_a_heading_that_starts_like_a_byline_is_not_one():
    doc = run("標題", "记者走进一线，探访质量提升新举措", LEAD)
    assert doc.meta["author"] is None and doc.paragraphs[1].kind == "body"


def test_newsrooms_are_not_authors():
    doc = run("標題", "2024年05月16日 17:02 新京报作者：新京报", LEAD, "（总台央视记者 奚丹霓 张赛）")
    assert doc.meta["author"] == "奚丹霓, 张赛"


def test_lead_in_with_bare_names():
    doc = run("標題", "新华社北京5月19日电（刘艺、杨吉）中国科学院专家19日在北京介绍国内首次在轨水生生态研究项目进展情况。")
    assert doc.meta["author"] == "刘艺, 杨吉" and doc.paragraphs[1].text.startswith("中国科学院专家19日")


def test_author_after_affiliation_and_job_title():
    doc = run("標題", LEAD, "（本文来源：经济日报 作者：中国国际经济交流中心世界经济研究部部长，“一带一路”研究部部长、研究员徐占忱）"
                            "返回搜狐，查看更多")
    assert (doc.meta["author"], doc.meta["source_name"]) == ("徐占忱", "经济日报")


@pytest.mark.parametrize("author, page_meta, lines", [
    ("105464", {}, ()),
    ("sina_mobile", {}, ()),
    ("中国科普网", {}, ()),
    ("网易", {"title": "苹果称美国反垄断诉讼应被驳回|指控|苹果公司_网易订阅"}, ()),
    ("青网新闻张毅", {}, ("责任编辑：张毅",)),
])
def test_meta_author_that_is_an_id_a_site_or_the_editor_is_ignored(author, page_meta, lines):
    doc = run("標題", LEAD, *lines, page_meta={"author": author, **page_meta})
    assert doc.meta["author"] is None


def test_h1_that_is_the_column_name_is_not_the_title():
    doc = html_doc(Paragraph("健康·生活", tag="h1"), Paragraph("2024年05月17日08:59 来源：北京青年报", tag="meta-line"),
                   Paragraph(LEAD), page_meta={"title": "关注青少年心理健康“心成长”服务项目启动--健康·生活--人民网",
                                               "h1": "健康·生活"})
    assert doc.meta["title"] == "关注青少年心理健康“心成长”服务项目启动"
    assert [(p.kind, p.reason) for p in doc.paragraphs][:2] == [("meta", "site or column name"), ("meta", "metadata line")]


def test_editor_labels_lose_the_cms_user_code_and_xuangao_is_an_editor():
    doc = run("標題", LEAD, "责任编辑：支全明 SF099")
    assert doc.meta["editor"] == "支全明"
    doc = run("標題", "2024-05-20 16:25:01 来源：上海奉贤选稿：许文杰", LEAD)
    assert (doc.meta["source_name"], doc.meta["editor"]) == ("上海奉贤", "许文杰")


def test_anonymous_is_not_a_name():
    doc = run("賦得古原草送別", "作者：白居易、佚名", LEAD)
    assert doc.meta["author"] == "白居易"
    doc = run("標題", "全文到此，下期再续。（待续）")
    assert doc.paragraphs[-1].text.endswith("（待续）") and doc.meta["author"] is None


@pytest.mark.parametrize("line", ["来源：市场监管局 作者：办公室", "作者：质量科", "作者：稽查支队", "作者：本站"])
def test_offices_are_not_authors(line):
    assert run("標題", line, LEAD).meta["author"] is None
    assert run("標題", "作者：李科", LEAD).meta["author"] == "李科"


def test_subtitle_after_the_info_line_of_an_html_page():
    """TRS pages print the info line (发布时间…来源…) between the headline and the '——' subtitle."""
    from pipelines.chain import extract_html

    html = ("<html><body><h1>质量兴县 标准先行</h1>"
            "<div class='info'>发布时间：2014-08-22 15:12　来源：咸宁日报</div>"
            "<div class='TRS_Editor'><p>——通城县质量技术监督局服务企业纪实</p>"
            "<p>近年来，通城县质监局以民主评议政风行风工作为契机，全方位服务企业，高标准指导企业，大力推行信息标准化建设。</p>"
            "<p>通城县质监局局长柳旭阳告诉记者，截至今日，通城县已创建国家级农业标准化示范区两个。</p></div></body></html>")
    record = extract_html(html, url="http://scjg.hubei.gov.cn/xwzx/szdt/201408/t20140822_611337.html")
    assert record["title"] == "质量兴县 标准先行"
    assert record["subtitle"] == "——通城县质量技术监督局服务企业纪实"
    assert "服务企业纪实" not in record["body"]
