"""The site in a real browser: search across scripts, facets, Excel CSV, crawled scripts kept inert, charts."""
import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest


@pytest.fixture()
def articles(archive_ids):
    """The records the archive was built from (conftest.ARTICLES), keyed as the ids are."""
    return archive_ids[2]


def test_traditional_query_finds_simplified_article_and_highlights_it(page, archive_ids, articles, screenshot):
    _, ids, _ = archive_ids
    page.goto("/")
    page.get_by_role("link", name=re.compile("中文全文检索")).click()
    box = page.locator("input[name=q]")
    box.click()
    box.press_sequentially("電梯")  # typed key by key, in traditional script
    box.press("Enter")
    page.wait_for_url(re.compile(r"/-/search\?q="))
    hits = page.locator(".hit")
    assert hits.count() == 3
    title = page.locator(f'.hit h3 a[href="/-/article/{ids["elevator_simplified"]}"]')
    assert title.inner_text() == articles["elevator_simplified"]["title"]
    marks = title.locator("mark")
    assert marks.all_inner_texts() == ["电梯"]  # the simplified article's own characters, highlighted
    assert marks.first.evaluate("m => getComputedStyle(m).backgroundColor") != "rgba(0, 0, 0, 0)"
    snippet = hits.first.locator(".snippet mark")
    assert snippet.count() >= 1 and set(snippet.all_inner_texts()) == {"电梯"}
    assert ids["uniform_traditional"] != ids["elevator_simplified"]
    assert page.locator(f'a[href="/-/article/{ids["uniform_traditional"]}"]').count() == 0
    screenshot("search-traditional-query")


def test_facet_click_narrows_the_table_search(page, articles, screenshot):
    page.goto("/browser/articles")
    page.locator("input[name=_search]").fill("电梯")
    page.locator("input[name=_search]").press("Enter")
    page.wait_for_url(re.compile(r"_search="))
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 3
    assert re.search(r"\b3 rows\b", page.locator("h3").first.inner_text())
    facet = page.locator("#facet-province")
    facet.get_by_role("link", name="浙江省").click()
    page.wait_for_url(re.compile(r"province="))
    args = parse_qs(urlsplit(page.url).query)
    assert args["_search"] == ["电梯"] and (args.get("province") or args.get("province__exact")) == ["浙江省"]
    assert rows.count() == 1
    assert rows.first.locator("td.col-province").inner_text() == "浙江省"
    assert rows.first.locator("td.col-title").inner_text() == articles["elevator_simplified"]["title"]
    # the page's own links follow: ranked search and export get the same filters
    export = page.locator("a.qsnews-export")
    assert "province=" in export.get_attribute("href") and "_search=" in export.get_attribute("href")
    screenshot("table-facet-province")


def test_csv_download_is_utf8_with_bom_and_chinese_intact(page, articles, tmp_path, screenshot):
    page.goto("/-/search?q=电梯")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("下载全部结果 CSV")).click()
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")  # strict: raises on anything that is not UTF-8
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 3
    assert {r["title"] for r in rows} == {articles[k]["title"] for k in
                                          ("elevator_simplified", "elevator_jiangsu", "elevator_guangdong")}
    assert {r["province"] for r in rows} == {"浙江省", "江苏省", "广东省"}
    assert "电梯" in download.suggested_filename or download.suggested_filename.endswith(".csv")
    screenshot("search-before-csv-download")


def test_crawled_script_is_shown_as_text_and_never_runs(page, archive_ids, articles, screenshot):
    _, ids, _ = archive_ids
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"/-/article/{ids['script']}")
    paragraph = page.locator("article p", has_text="window.__pwned")
    assert paragraph.inner_text() == articles["script"]["paragraphs"][1]  # visible, literally
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned" and "成都市发布儿童玩具消费提示" in page.title()
    assert page.locator("article script").count() == 0
    assert not dialogs
    # the same on the table page, where the body column is rendered by Datasette
    page.goto(f"/browser/articles/{ids['script']}")
    assert page.evaluate("window.__pwned") is None and page.title() != "pwned"
    assert page.get_by_text("window.__pwned", exact=False).count() >= 1
    page.goto(f"/-/article/{ids['script']}")
    screenshot("article-inert-script")


def test_charts_render_offline_and_follow_the_facets(page, screenshot):
    page.goto("/browser/articles")
    charts = page.locator("img.qsnews-chart")
    assert charts.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.qsnews-chart')].every(i => i.complete && i.naturalWidth > 0)")
    screenshot("table-charts")
    page.goto("/browser/articles?_search=电梯&province=浙江省")
    src = page.locator("img.qsnews-chart").first.get_attribute("src")
    assert "_search=" in src and "province=" in src  # rewritten by the plugin's body script
    page.goto("/-/charts?_search=电梯&province=浙江省")
    bars = page.locator("svg rect.bar title").all_text_contents()
    assert "浙江省: 1" in bars and not any(b.startswith("江苏省") for b in bars)
    assert "2023-03: 1" in bars
    screenshot("charts-filtered")
