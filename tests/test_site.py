"""The Datasette site: search box, ranked search page, article page, raw copy, Excel CSV."""
import asyncio
import csv
import io

import pytest
from datasette.app import Datasette
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.serve import datasette_argv, ensure_plugin, load_metadata
from archive.store import Archive

RAW_HTML = "<html><head><script>alert('crawled')</script></head><body><p>市質監局對校服開展抽查</p></body></html>"


def write_warc(path, url, html):
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(writer.create_warc_record("http://example/other", "resource",
                                                      payload=io.BytesIO(b"padding record")))
        offset = stream.tell()
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=gbk")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(html.encode("gbk")),
                                                      http_headers=headers))
    return offset


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    path = folder / "archive.db"  # not "qsnews": the metadata must follow the file's name
    (folder / "warc").mkdir()
    offset = write_warc(folder / "warc" / "crawl-1.warc.gz", "http://zj.gov.cn/art/1.html", RAW_HTML)
    with Archive(path) as arc:
        source_id = arc.upsert_source({"name": "zj"})
        trad, _ = arc.upsert_article({
            "url": "http://zj.gov.cn/art/1.html", "title": "市質監局開展校服抽查", "province": "浙江省",
            "published_at": "2016-04-18T08:32:30+08:00", "source_name": "浙江質監",
            "body": "市質監局對全市中小學校服開展抽查。\n<script>alert(1)</script>",
            "paragraphs": [
                {"position": 0, "kind": "heading", "text": "抽查範圍", "reason": "section heading"},
                {"position": 1, "kind": "body", "text": "市質監局對全市中小學校服開展抽查。"},
                {"position": 2, "kind": "body", "text": "<script>alert(1)</script>"},
                {"position": 3, "kind": "boilerplate", "text": "分享到微信", "reason": "share buttons"},
            ]}, source_id, "2024-01-01T00:00:00+00:00")
        arc.record_page({"url": "http://zj.gov.cn/art/1.html", "source_id": source_id, "outcome": "article",
                         "encoding": "gbk", "warc_file": "crawl-1.warc.gz", "warc_offset": offset})
        simp, _ = arc.upsert_article({"url": "http://x/2", "title": "=质监局通报电梯检查", "province": "江苏省",
                                      "published_at": "2017-05-01", "body": "质监局通报电梯检查结果。"},
                                     source_id, "2024-01-01T00:00:00+00:00")
        other, _ = arc.upsert_article({"url": "http://x/3", "title": "校园服装展示", "body": "校园服装展示。"},
                                      source_id, "2024-01-01T00:00:00+00:00")
    ensure_plugin()
    ds = Datasette([str(path)], metadata=load_metadata(path))
    return ds, {"trad": trad, "simp": simp, "other": other}


def get(ds, url):
    return asyncio.run(ds.client.get(url))


def test_table_search_box_uses_the_bigram_index(site):
    ds, ids = site
    rows = get(ds, "/archive/articles.json?_search=校服&_shape=array").json()
    assert [r["id"] for r in rows] == [ids["trad"]]
    rows = get(ds, "/archive/articles.json?_search=質監&_shape=array").json()
    assert {r["id"] for r in rows} == {ids["trad"], ids["simp"]}


def test_table_search_shows_the_newest_matches_and_says_how_many_match(site, monkeypatch):
    from archive import queries

    ds, ids = site
    monkeypatch.setattr(queries, "SEARCH_WINDOW", 1)
    page = get(ds, "/archive/articles.json?_search=質監&_shape=objects").json()
    assert [r["id"] for r in page["rows"]] == [ids["simp"]]  # 2017 before 2016
    assert "the newest 1 of 2" in page["human_description_en"]
    rows = get(ds, "/archive/articles.json?_search=质监&province=浙江省&_shape=array").json()
    assert [r["id"] for r in rows] == [ids["trad"]]  # the facet filter applies inside the window
    rows = get(ds, "/archive/articles.json?_search=质监&title__contains=市&_shape=array").json()
    assert [r["id"] for r in rows] == [ids["trad"]]  # another filter: no window, nothing left out
    html = get(ds, "/archive/articles?_search=质监").text
    assert 'name="_search" value="质监"' in html and "the newest 1 of 2" in html
    assert 'name="_search"' in get(ds, "/archive/articles").text


def test_table_page_has_facets_article_links_and_excel_export(site):
    ds, ids = site
    html = get(ds, "/archive/articles").text
    assert f'href="/-/article/{ids["trad"]}"' in html
    assert 'class="qsnews-export" href="/-/export.csv"' in html
    assert "published_year" in html and "sorted by published_at descending" in html


def test_ranked_search_page_highlights_in_the_articles_script(site):
    ds, ids = site
    response = get(ds, "/-/search?q=质监")
    assert response.status_code == 200
    assert "<mark>質監</mark>" in response.text  # traditional article, simplified query
    assert "<mark>质监</mark>" in response.text
    assert "/-/export.csv?q=" in response.text


def test_canned_queries(site):
    ds, ids = site
    rows = get(ds, "/archive/ranked_search.json?q=校服&_shape=array").json()
    assert [r["id"] for r in rows] == [ids["trad"]]
    rows = get(ds, "/archive/latest_by_region.json?province=浙江省&prefecture=&county=&_shape=array").json()
    assert [r["id"] for r in rows] == [ids["trad"]]
    rows = get(ds, "/archive/source_health.json?_shape=array").json()
    assert [(r["name"], r["articles"], r["new_7d"]) for r in rows] == [("zj", 3, 0)]


def test_article_page_shows_paragraphs_and_escapes_crawled_markup(site):
    ds, ids = site
    html = get(ds, f"/-/article/{ids['trad']}").text
    assert "<h3>抽查範圍</h3>" in html and "<p>市質監局對全市中小學校服開展抽查。</p>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<details" in html and "boilerplate" in html and "share buttons" in html
    assert 'href="http://zj.gov.cn/art/1.html"' in html and f"/-/article/{ids['trad']}/raw" in html
    assert get(ds, "/-/article/99999").status_code == 404


def test_raw_copy_is_plain_text_in_a_sandbox(site):
    ds, ids = site
    response = get(ds, f"/-/article/{ids['trad']}/raw")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-security-policy"] == "sandbox"
    assert "<script>alert('crawled')</script>" in response.text and "市質監局" in response.text
    assert get(ds, f"/-/article/{ids['simp']}/raw").status_code == 404


def test_excel_csv_has_a_bom_and_all_matching_rows(site):
    ds, ids = site
    response = get(ds, "/-/export.csv?q=质监")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == [ids["simp"], ids["trad"]]  # newest first
    assert rows[0]["title"] == "'=质监局通报电梯检查"  # no formula injection into Excel
    text = get(ds, "/-/export.csv?_search=质监&province=浙江省").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in rows] == [ids["trad"]]
    assert get(ds, "/-/export.csv?title__contains=x").status_code == 400


def test_datasette_argv(tmp_path):
    argv = datasette_argv(tmp_path / "qsnews.db", port=9000, allow_sql=False)
    assert argv[:3] == ["datasette", "serve", str(tmp_path / "qsnews.db")]
    assert argv[argv.index("--metadata") + 1].endswith("metadata.yml")
    assert "default_allow_sql" in argv and "9000" in argv
    tables = load_metadata(tmp_path / "other.db")["databases"]["other"]["tables"]
    assert "fts_table" not in tables["articles"]  # the plugin answers ?_search= (filters_from_request)


def test_export_streams_every_row_once_across_chunks(site, monkeypatch):
    from archive import datasette_plugin

    ds, ids = site
    monkeypatch.setattr(datasette_plugin, "EXPORT_CHUNK", 2)
    rows = list(csv.DictReader(io.StringIO(get(ds, "/-/export.csv").content.decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == [ids["simp"], ids["trad"], ids["other"]]  # undated last


def test_plugin_registered_by_hand_still_replaces_escape_fts(site, tmp_path):
    """Without the entry point the plugin registers after Datasette's defaults; its escape_fts must still win."""
    from datasette.plugins import pm

    from archive import datasette_plugin

    ds, ids = site
    pm.unregister(datasette_plugin)
    try:
        ensure_plugin()
        fresh = Datasette([ds.get_database("archive").path], metadata=ds.metadata())
        rows = get(fresh, "/archive/articles.json?_search=質監局&_shape=array").json()  # needs t2s + bigrams
        assert {r["id"] for r in rows} == {ids["trad"], ids["simp"]}
    finally:
        ensure_plugin()


def test_public_switch_turns_off_sql_but_keeps_canned_queries(site):
    ds, ids = site
    public = Datasette([ds.get_database("archive").path], metadata=ds.metadata(),
                       settings={"default_allow_sql": False})  # what datasette_argv(allow_sql=False) sets
    assert get(public, "/archive.json?sql=select+1").status_code == 403
    assert get(public, "/archive/ranked_search.json?q=校服&_shape=array").json()[0]["id"] == ids["trad"]


def test_a_story_and_its_reprints_show_once_in_search_and_are_listed_on_its_page(tmp_path):
    import opencc

    body = ("近日，襄阳市市场监督管理局组织开展学生校服产品质量监督抽查，共抽查全市12家校服生产企业的30批次产品，"
            "检验项目包括纤维含量、甲醛含量、pH值、可分解致癌芳香胺染料等。抽查结果显示，28批次产品合格，"
            "2批次产品纤维含量不合格，已责令企业整改并依法立案查处。")
    other = ("湖北省市场监督管理局部署开展校服安全隐患专项排查整治，要求各地对中小学校服采购、验收和供应商资质"
             "逐项检查，发现问题立即督促整改，并将排查结果向社会公开，接受家长和学校监督，确保学生穿着安全。")
    path = tmp_path / "archive.db"
    with Archive(path) as arc:
        bureau = arc.upsert_source({"name": "襄阳市市场监督管理局", "kind": "bureau"})
        mirror = arc.upsert_source({"name": "镜像站", "kind": "mirror"})
        original, _ = arc.upsert_article({"url": "http://xy.gov.cn/1.html", "title": "襄阳开展校服抽查", "body": body,
                                          "published_at": "2024-05-21T10:00:00+08:00"}, bureau, "2024-05-21T10:00:00+08:00")
        reprint, _ = arc.upsert_article({"url": "http://mirror.example/9.html", "title": "襄陽開展校服抽查",
                                         "body": "（轉載）" + opencc.OpenCC("s2t").convert(body),
                                         "published_at": "2024-05-23T10:00:00+08:00"}, mirror, "2024-05-23T10:00:00+08:00")
        unrelated, _ = arc.upsert_article({"url": "http://hb.gov.cn/2.html", "title": "湖北部署校服排查", "body": other,
                                           "published_at": "2024-05-22T10:00:00+08:00"}, bureau, "2024-05-22T10:00:00+08:00")
    ensure_plugin()
    ds = Datasette([str(path)], metadata=load_metadata(path))

    page = get(ds, "/-/search?q=校服").text
    assert page.count('class="hit"') == 2  # the story once, plus the unrelated one
    assert f"/-/article/{original}" in page and f"/-/article/{reprint}\"" not in page
    assert "1 reprint" in page
    article = get(ds, f"/-/article/{original}").text
    assert 'id="reprints"' in article and f"/-/article/{reprint}" in article and "镜像站" in article
    assert 'id="reprints"' not in get(ds, f"/-/article/{unrelated}").text
    rows = get(ds, f"/archive/reprints.json?article_id={reprint}&_shape=array").json()
    assert [(r["id"], r["is_canonical"]) for r in rows] == [(original, 1), (reprint, 0)]
