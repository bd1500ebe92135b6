"""The product path end to end, as `make demo` runs it: sample sites -> real spiders -> archive -> Datasette."""
import json
import sqlite3
import unicodedata
import urllib.parse
import urllib.request

import opencc
import pytest

from conftest import SEEDS, run_qsnews
from loopback import query as rows, serving

T2S = opencc.OpenCC("t2s")
EXPECTED = json.loads((SEEDS / "expected.json").read_text(encoding="utf-8"))


def norm(text):
    return T2S.convert(unicodedata.normalize("NFKC", text or ""))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "qsnews.db"
    result = run_qsnews("demo", "--no-serve", "--db", db)
    assert result.returncode == 0, result.stderr[-3000:]
    return db



def test_every_seed_story_is_archived_with_source_and_date(demo_db):
    articles = rows(demo_db, "select a.*, s.name as site from articles a join sources s on s.id = a.source_id")
    bodies = [norm(a["body"]) for a in articles]
    for seed, expected in EXPECTED.items():
        if seed.startswith("_"):
            continue
        needle = norm(expected["body_contains"][0])
        assert any(needle in body for body in bodies), f"{seed} not archived"
    assert all(a["published_at"] and a["published_at"].endswith("+08:00") for a in articles)
    assert all(a["site"] and a["title"] for a in articles)


def test_no_list_navigation_or_attachment_page_is_an_article(demo_db):
    urls = [a["url"] for a in rows(demo_db, "select url from articles")]
    assert urls and not any("index" in u or "node_" in u or u.endswith((".pdf", ".doc")) for u in urls)
    outcomes = {r["outcome"] for r in rows(demo_db, "select distinct outcome from pages")}
    assert {"article", "list", "attachment", "blocked", "error"} <= outcomes
    assert not any("127.0.0.1" in r["url"] for r in rows(demo_db, "select url from pages"))


def test_challenged_source_is_blocked_and_archives_nothing(demo_db):
    [source] = rows(demo_db, "select * from sources where name like '%412%'")
    assert source["status"] == "blocked"
    assert not rows(demo_db, "select id from articles where source_id = ?", source["id"])


def test_pages_point_into_readable_warc_files(demo_db):
    from archive.raw import read_raw

    gbk_pages = rows(demo_db, "select * from pages where outcome = 'article' and encoding = 'gb18030' order by url")
    assert len(gbk_pages) == 2  # the two-page GBK article and its continuation
    raw = [read_raw(demo_db, page) for page in gbk_pages]
    assert all("湖北省市场监督管理局" in text for text in raw)
    assert any("通城县质量技术监督局" in text for text in raw)


def test_second_run_fetches_no_article_again(demo_db):
    before = rows(demo_db, "select count(*) n from articles")[0]["n"]
    fetched_before = {r["url"]: r["fetched_at"] for r in rows(demo_db, "select url, fetched_at from pages where outcome = 'article'")}
    last = rows(demo_db, "select max(id) m from crawl_runs")[0]["m"]
    first_requests = sum(r["requests"] for r in rows(demo_db, "select requests from crawl_runs where id <= ?", last))
    result = run_qsnews("demo", "--no-serve", "--db", demo_db)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = rows(demo_db, "select * from crawl_runs where id > ?", last)
    assert runs and sum(r["new_articles"] for r in runs) == 0
    assert rows(demo_db, "select count(*) n from articles")[0]["n"] == before
    fetched_after = {r["url"]: r["fetched_at"] for r in rows(demo_db, "select url, fetched_at from pages where outcome = 'article'")}
    assert fetched_after == fetched_before  # no article page was fetched (and re-recorded) again
    assert sum(r["requests"] for r in runs) < first_requests


def test_serve_answers_search_in_either_script(demo_db):
    with serving(demo_db) as base:
        query = urllib.parse.quote("校服")
        table = json.load(urllib.request.urlopen(f"{base}/qsnews/articles.json?_search={query}&_shape=array"))
        assert table and all("校服" in norm(r["body"]) or "校服" in norm(r["title"]) for r in table)
        traditional = urllib.parse.quote("質監")
        found = json.load(urllib.request.urlopen(f"{base}/qsnews/articles.json?_search={traditional}&_shape=array"))
        assert any("质监" in norm(r["body"]) for r in found)
        page = urllib.request.urlopen(f"{base}/-/search?q={query}").read().decode()
        assert "<mark>" in page
        table_page = urllib.request.urlopen(f"{base}/qsnews/articles").read().decode()
        assert "province" in table_page and "Suggested facets" not in table_page  # declared facets only: cheap at 1M


def test_reprocess_rebuilds_articles_from_warc_offline(demo_db):
    original = {r["url"]: r for r in rows(demo_db, "select url, title, body, content_hash from articles")}
    conn = sqlite3.connect(demo_db)
    conn.create_function("qsnews_index_text", -1, lambda *a: "")  # the archive's trigger function, inert here
    with conn:
        conn.execute("update articles set body = 'stale', content_hash = 'stale', title = 'stale'")
    conn.close()
    result = run_qsnews("reprocess", "--db", demo_db)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"updated={len(original)}" in result.stdout
    rebuilt = {r["url"]: r for r in rows(demo_db, "select url, title, body, content_hash from articles")}
    assert rebuilt == original  # the two-page GBK article included: parts joined as the spider joined them
