import hashlib

from pipelines.chain import clean, extract_html, extract_text, to_record
from pipelines.plaintext import text_to_document

ARTICLE_COLUMNS = {"url", "canonical_url", "title", "title_derived", "subtitle", "published_at", "published_raw",
                   "source_name", "author", "editor", "section", "province", "prefecture", "county", "region_code",
                   "body", "body_simplified", "paragraph_count", "flags", "content_hash"}
TEXT = "\n".join([
    "質量興縣:做實就會有收獲",
    "- 發布時間:2016-04-18 08:32:30 來源:中國質量報 責任編輯:羅伯特",
    "□ 黃 凰",
    "近年來,湖北省崇陽縣質監局深入貫徹落實黨的十八大精神,緊緊圍繞崇陽縣社會和經濟發展大局,創新思維。",
    "近年來,湖北省崇陽縣質監局深入貫徹落實黨的十八大精神,緊緊圍繞崇陽縣社會和經濟發展大局,創新思維。",
    "質量(zhì)興縣工作蓬勃開展,受到崇陽縣政府通令嘉獎。",
    "熱圖一覽",
    "- 股票名稱 最新價 漲跌幅",
])


def test_record_has_exactly_the_contract_columns():
    record = extract_text(TEXT, url="http://example.cn/a.html")
    assert set(record) == ARTICLE_COLUMNS | {"paragraphs"}
    assert record["url"] == record["canonical_url"] == "http://example.cn/a.html"


def test_record_values():
    record = extract_text(TEXT)
    assert record["body"] == ("近年來,湖北省崇陽縣質監局深入貫徹落實黨的十八大精神,緊緊圍繞崇陽縣社會和經濟發展大局,創新思維。\n"
                              "質量興縣工作蓬勃開展,受到崇陽縣政府通令嘉獎。")
    assert record["body_simplified"].startswith("近年来,湖北省崇阳县质监局")
    assert record["paragraph_count"] == 2
    assert record["content_hash"] == hashlib.sha256(record["body_simplified"].encode("utf-8")).hexdigest()
    assert record["flags"] == ["pinyin_removed"] and record["title_derived"] is False
    assert record["published_at"] == "2016-04-18T08:32:30+08:00"
    kinds = [(p["position"], p["kind"]) for p in record["paragraphs"]]
    assert kinds == [(0, "meta"), (1, "meta"), (2, "byline"), (3, "body"), (4, "duplicate"), (5, "body"),
                     (6, "boilerplate"), (7, "boilerplate")]
    assert record["paragraphs"][4]["reason"] == "repeat of paragraph 3"


def test_source_and_hints_reach_the_steps():
    record = extract_text("今年以來,崇陽縣質監局扎實推進各項活動,履行職責的重點工作實現了新突破。",
                          hints={"list_title": "質監工作實現新突破", "list_date": "2016-04-18"},
                          source={"name": "崇阳县市场监督管理局", "level": "county", "region_code": "421223"})
    assert record["title"] == "質監工作實現新突破" and record["title_derived"] is False
    assert record["published_at"] == "2016-04-18T00:00:00+08:00"


def test_derived_title_is_flagged():
    record = extract_text("今年以來,崇陽縣質監局扎實推進各項活動,履行職責的重點工作實現了新突破。")
    assert record["title_derived"] is True and "title_derived" in record["flags"] and record["title"]


def test_to_record_of_clean_document_keeps_all_paragraphs():
    doc = clean(text_to_document(TEXT))
    assert len(to_record(doc)["paragraphs"]) == len(doc.paragraphs)


def test_extract_html_runs_the_same_chain():
    html = """<html><head><title>质量兴县_某县市场监督管理局</title>
    <meta name="PubDate" content="2021-01-05 10:20"></head><body>
    <div class="nav"><a href="/">首页</a> <a href="/x">工作动态</a></div>
    <h1>质量兴县 标准先行</h1>
    <div class="TRS_Editor">
    <p>近年来,通城县质监局以民主评议政风行风工作为契机,全方位服务企业,高标准指导企业,提升质量管理水平。</p>
    <p>通城县有效期内湖北名牌产品已达到7个,总产值已占据全县规模以上工业企业总产值的50%左右。</p>
    </div></body></html>"""
    record = extract_html(html, url="http://example.cn/art/2021/1/5/art_1.html")
    assert record["title"] == "质量兴县 标准先行"
    assert record["published_at"] == "2021-01-05T10:20:00+08:00"
    assert "通城县有效期内湖北名牌产品已达到7个" in record["body"]


def test_extract_html_reads_an_unlabelled_date_line_and_keeps_the_lead_whole():
    html = """<html><head><title>中法经贸合作广度深度不断拓展_搜狐</title></head><body>
    <div class="nav"><a href="/">首页</a> <a href="/x">财经</a></div>
    <div class="article"><h1>中法经贸合作广度深度不断拓展</h1>
    <div class="time">2024-05-13 06:15</div>
    <p>今年是中法建交60周年。60年来，中法双方独立自主、互利共赢，经贸合作广度深度不断拓展，合作领域日益丰富。</p>
    <p>中法合作遍布于重要能源、前沿科技领域以及百姓生活中日常食品用品，目前法国是中国在欧盟内第三大贸易伙伴。</p>
    <p>以变应变，政策“大礼包”提振信心</p>
    <p>展望未来，中国开放的大门将越开越大，这将为包括法国在内的各国企业创造更多的发展机会。</p>
    <p>（本文来源：经济日报 作者：中国国际经济交流中心世界经济研究部部长、研究员徐占忱）</p>
    </div></body></html>"""
    record = extract_html(html, url="https://www.sohu.com/a/778.html")
    assert record["published_at"] == "2024-05-13T06:15:00+08:00"
    assert (record["author"], record["source_name"]) == ("徐占忱", "经济日报")
    assert record["body"].startswith("今年是中法建交60周年。") and record["paragraph_count"] == 4
