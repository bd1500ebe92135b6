"""Charts: articles per month and per province, server-side SVG on the articles table page and /-/charts."""
import asyncio
import re
import xml.etree.ElementTree as ET

import pytest
from datasette.app import Datasette

from archive import charts
from archive.serve import ensure_plugin, load_metadata
from archive.store import Archive

SVG = "{http://www.w3.org/2000/svg}"
SEEN = "2024-01-01T00:00:00+00:00"
ARTICLES = [
    # url, title, province, published_at, body
    ("http://a/1", "杭州市开展电梯安全检查", "浙江省", "2023-01-05T09:00:00+08:00", "电梯维保单位检查。"),
    ("http://a/2", "宁波市电梯应急演练", "浙江省", "2023-01-20T09:00:00+08:00", "电梯困人应急演练。"),
    ("http://a/3", "南京市校服抽查", "江苏省", "2023-03-02T09:00:00+08:00", "校服质量抽查结果。"),
    ("http://a/4", "苏州市電梯檢驗", "江苏省", "2023-04-11T09:00:00+08:00", "電梯定期檢驗。"),
    ("http://a/5", "广州市奶粉抽检", "广东省", None, "奶粉抽检。"),
    ("http://a/6", "无地区的文章", None, "2023-04-30T23:00:00+08:00", "电梯。"),
    ("http://a/7", "<b>省</b>", "<script>x</script>", "2023-02-01", "转义。"),
]


@pytest.fixture()
def archive_path(tmp_path):
    path = tmp_path / "charts.db"
    with Archive(path) as arc:
        source = arc.upsert_source({"name": "s"})
        for url, title, province, published, body in ARTICLES:
            arc.upsert_article({"url": url, "title": title, "province": province, "published_at": published,
                                "body": body}, source, SEEN)
    return path


@pytest.fixture()
def ds(archive_path):
    ensure_plugin()
    return Datasette([str(archive_path)], metadata=load_metadata(archive_path))


def get(ds, url):
    return asyncio.run(ds.client.get(url))


def bars(svg_text):
    root = ET.fromstring(svg_text)  # well-formed XML, or this raises
    return [rect.find(f"{SVG}title").text for rect in root.iter(f"{SVG}rect")]


def test_month_counts_fill_gaps_and_leave_out_undated(archive_path):
    with Archive(archive_path) as arc:
        assert charts.month_counts(arc.conn, None, {}) == [
            ("2023-01", 2), ("2023-02", 1), ("2023-03", 1), ("2023-04", 2)]
        assert charts.month_counts(arc.conn, "电梯", {"province": "浙江省"}) == [("2023-01", 2)]
        assert charts.month_counts(arc.conn, "不存在的词", {}) == []


def test_province_counts_most_first_with_unknown(archive_path):
    with Archive(archive_path) as arc:
        assert charts.province_counts(arc.conn, None, {}) == [
            ("江苏省", 2), ("浙江省", 2), ("<script>x</script>", 1), ("广东省", 1), (charts.UNKNOWN, 1)]
        # a traditional query finds simplified articles and vice versa
        assert charts.province_counts(arc.conn, "電梯", {}) == [("浙江省", 2), ("江苏省", 1), (charts.UNKNOWN, 1)]


def test_month_svg_route(ds):
    response = get(ds, "/-/charts/month.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert bars(response.text) == ["2023-01: 2", "2023-02: 1", "2023-03: 1", "2023-04: 2"]
    assert "<script" not in response.text and "http" not in response.text.replace("http://www.w3.org/2000/svg", "")


def test_province_svg_route_escapes_crawled_names(ds):
    response = get(ds, "/-/charts/province.svg")
    assert response.status_code == 200
    titles = bars(response.text)
    assert titles[:2] == ["江苏省: 2", "浙江省: 2"] and "<script>x</script>: 1" in titles
    assert "<script>" not in response.text and "&lt;script&gt;" in response.text


def test_charts_follow_the_table_pages_search_and_facets(ds):
    # what the table page's body script appends: its own query string, incl. arguments charts ignore
    response = get(ds, "/-/charts/province.svg?_search=%E9%9B%BB%E6%A2%AF&province__exact=%E6%B5%99%E6%B1%9F%E7%9C%81"
                       "&_sort_desc=published_at&_facet=province")
    assert bars(response.text) == ["浙江省: 2"]
    assert "检索 search: 電梯" in response.text and "province = 浙江省" in response.text
    assert bars(get(ds, "/-/charts/month.svg?q=%E6%A0%A1%E6%9C%8D").text) == ["2023-03: 1"]
    assert get(ds, "/-/charts/other.svg").status_code == 404


def test_charts_page_is_inline_svg_without_scripts(ds):
    html = get(ds, "/-/charts").text
    assert html.count("<svg ") == 2 and "每月文章数" in html and "各省文章数" in html
    assert not re.search(r"<script[^>]*src=", html.split("<svg", 1)[1])  # no chart library from a CDN
    assert "全部文章 All articles" in html


def test_table_page_shows_the_charts_with_its_filters(ds):
    html = get(ds, "/charts/articles").text
    assert '<img class="qsnews-chart" src="/-/charts/month.svg"' in html
    assert '<img class="qsnews-chart" src="/-/charts/province.svg"' in html
    assert "img.qsnews-chart" in html and "u.search = location.search" in html
    assert 'href="/-/charts"' in get(ds, "/").text


def test_cached_counts_follow_new_articles(archive_path, ds):
    assert bars(get(ds, "/-/charts/province.svg").text)[0] == "江苏省: 2"
    with Archive(archive_path) as arc:
        arc.upsert_article({"url": "http://a/8", "title": "无锡市电梯", "province": "江苏省",
                            "published_at": "2023-05-01", "body": "电梯。"}, None, SEEN)
    assert bars(get(ds, "/-/charts/province.svg").text)[0] == "江苏省: 3"
    assert bars(get(ds, "/-/charts/month.svg").text)[-1] == "2023-05: 1"
