"""archive.schema and archive.store: creation, migration, idempotent upserts."""
import json
import sqlite3
import sys
import types

import pytest

from archive import schema
from archive.search import to_fts_query
from archive.store import Archive, connect


def record(url="http://zj.gov.cn/art/1.html", **overrides):
    rec = {
        "url": url,
        "title": "市質監局開展校服質量抽查",
        "title_derived": False,
        "published_at": "2016-04-18T08:32:30+08:00",
        "source_name": "浙江省质监局",
        "body": "市質監局對全市中小學校服開展抽查。\n抽查結果將向社會公布。",
        "flags": ["mojibake_repaired"],
        "paragraphs": [
            {"position": 0, "kind": "heading", "text": "一、抽查範圍", "reason": "section heading"},
            {"position": 1, "kind": "body", "text": "市質監局對全市中小學校服開展抽查。", "reason": None},
            {"position": 2, "kind": "body", "text": "抽查結果將向社會公布。", "reason": None},
            {"position": 3, "kind": "boilerplate", "text": "相關文章", "reason": "related-articles list"},
        ],
    }
    rec.update(overrides)
    return rec


@pytest.fixture
def archive(tmp_path):
    with Archive(tmp_path / "qsnews.db") as arc:
        yield arc


def master(conn):
    return sorted(tuple(r) for r in conn.execute("select type, name, sql from sqlite_master"))


def test_creating_twice_is_a_no_op(tmp_path):
    path = tmp_path / "qsnews.db"
    Archive(path).close()
    first = master(sqlite3.connect(path))
    with Archive(path) as arc:
        assert schema.migrate(arc.conn) == schema.LATEST
        versions = [r[0] for r in arc.conn.execute("select version from qsnews_schema order by version")]
    assert versions == [v for v, _, _ in schema.MIGRATIONS]
    assert master(sqlite3.connect(path)) == first


def test_migrates_an_older_database_and_indexes_existing_articles(tmp_path):
    path = tmp_path / "old.db"
    conn = connect(path)
    assert schema.migrate(conn, target=1) == 1
    conn.execute("insert into articles (url, title, body) values ('http://a/1', '舊標題', '質監局抽查校服')")
    conn.close()
    with Archive(path) as arc:
        assert schema.current_version(arc.conn) == schema.LATEST
        hits = arc.conn.execute("select rowid & 4294967295 from articles_fts where articles_fts match ?", (to_fts_query("质监"),))
        assert [r[0] for r in hits] == [1]
        assert "published_year" in [r[1] for r in arc.conn.execute("pragma table_xinfo(articles)")]


def test_wal_and_foreign_keys(archive):
    assert archive.conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert archive.conn.execute("pragma foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        archive.conn.execute("insert into paragraphs (article_id, position, kind, text) values (999, 0, 'body', 'x')")


def test_upsert_article_new_unchanged_updated(archive):
    source_id = archive.upsert_source({"name": "zj"})
    article_id, status = archive.upsert_article(record(), source_id, "2024-01-01T00:00:00+00:00")
    assert status == "new"
    assert archive.upsert_article(record(), source_id, "2024-01-02T00:00:00+00:00") == (article_id, "unchanged")
    row = archive.conn.execute("select * from articles where id = ?", (article_id,)).fetchone()
    assert (row["first_seen_at"], row["last_seen_at"]) == ("2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00")
    assert row["title_derived"] == 0 and isinstance(row["title_derived"], int)
    assert json.loads(row["flags"]) == ["mojibake_repaired"]
    assert row["body_simplified"].startswith("市质监局对全市中小学校服")
    assert row["paragraph_count"] == 2 and len(row["content_hash"]) == 64
    assert row["published_year"] == "2016"

    def search(q):
        return [r[0] for r in archive.conn.execute("select rowid & 4294967295 from articles_fts where articles_fts match ?",
                                                   (to_fts_query(q),))]

    assert search("质量") == [article_id]  # only in the old title
    changed = record(title="书包抽查", title_derived=True,
                     paragraphs=[{"position": 0, "kind": "body", "text": "新的正文", "reason": None}])
    assert archive.upsert_article(changed, None, "2024-01-03T00:00:00+00:00") == (article_id, "updated")
    row = archive.conn.execute("select * from articles where id = ?", (article_id,)).fetchone()
    assert (row["title"], row["title_derived"], row["source_id"]) == ("书包抽查", 1, source_id)
    assert row["first_seen_at"] == "2024-01-01T00:00:00+00:00"
    paragraphs = archive.conn.execute("select position, kind, text from paragraphs where article_id = ?",
                                      (article_id,)).fetchall()
    assert [tuple(p) for p in paragraphs] == [(0, "body", "新的正文")]
    assert search("书包") == [article_id] and search("质量") == []
    archive.conn.execute("insert into articles_fts(articles_fts) values ('integrity-check')")


def test_a_changed_dropped_paragraph_is_an_update(archive):
    archive.upsert_article(record(), None, "t1")
    paragraphs = record()["paragraphs"][:3] + [{"position": 3, "kind": "boilerplate", "text": "相關文章",
                                                "reason": "share buttons"}]
    assert archive.upsert_article(record(paragraphs=paragraphs), None, "t2")[1] == "updated"


def test_record_page_upserts_by_url(archive):
    page = {"url": "http://a/1", "http_status": 200, "outcome": "article", "warc_file": "a.warc.gz", "warc_offset": 0}
    archive.record_page(page)
    archive.record_page({**page, "http_status": 403, "outcome": "blocked", "reason": "challenge page"})
    rows = archive.conn.execute("select http_status, outcome, reason from pages").fetchall()
    assert [tuple(r) for r in rows] == [(403, "blocked", "challenge page")]
    with pytest.raises(sqlite3.IntegrityError):
        archive.record_page({"url": "http://a/2", "outcome": "nonsense"})


def test_known_article_urls(archive):
    a = archive.upsert_source({"name": "a"})
    b = archive.upsert_source({"name": "b"})
    archive.upsert_article(record("http://a/1"), a, "t")
    archive.upsert_article(record("http://b/1"), b, "t")
    assert archive.known_article_urls() == {"http://a/1", "http://b/1"}
    assert archive.known_article_urls(a) == {"http://a/1"}


def test_crawl_runs_and_source_status(archive):
    source_id = archive.upsert_source({"name": "zj", "start_urls": ["http://a/", "http://b/"]})
    run_id = archive.start_run(source_id)
    archive.finish_run(run_id, requests=10, new_articles=3, updated_articles=1, errors=0, blocked=0, status="ok")
    archive.set_source_status(source_id, "blocked")
    run = archive.conn.execute("select * from crawl_runs where id = ?", (run_id,)).fetchone()
    assert (run["requests"], run["new_articles"], run["status"]) == (10, 3, "ok") and run["finished_at"]
    source = archive.conn.execute("select status, start_urls from sources").fetchone()
    assert tuple(source) == ("blocked", "http://a/\nhttp://b/")
    with pytest.raises(ValueError):
        archive.finish_run(run_id, pages=3)


def test_upsert_source_by_name_fills_region_names(archive, monkeypatch):
    regions = types.ModuleType("pipelines.regions")
    regions.lookup = lambda code: types.SimpleNamespace(province="浙江省", prefecture="杭州市", county=None)
    monkeypatch.setitem(sys.modules, "pipelines.regions", regions)
    first = archive.upsert_source({"name": "hz", "kind": "bureau", "region_code": 330100})
    again = archive.upsert_source({"name": "hz", "kind": "portal", "region_code": "330100", "extra_key": 1})
    assert first == again
    row = archive.conn.execute("select kind, region_code, province, prefecture, county from sources").fetchone()
    assert tuple(row) == ("portal", "330100", "浙江省", "杭州市", None)


def test_upsert_source_without_regions_module_says_why(archive, monkeypatch):
    monkeypatch.setitem(sys.modules, "pipelines.regions", None)
    with pytest.raises(RuntimeError, match="pipelines.regions"):
        archive.upsert_source({"name": "hz", "region_code": "330100"})


def test_index_follows_title_and_body_edits_outside_the_store(archive, tmp_path):
    article_id, _ = archive.upsert_article(record(), None, "t")
    archive.conn.execute("update articles set title = '电梯检验' where id = ?", (article_id,))
    hits = archive.conn.execute("select rowid & 4294967295 from articles_fts where articles_fts match ?", (to_fts_query("电梯"),))
    assert [r[0] for r in hits] == [article_id]
    plain = sqlite3.connect(tmp_path / "qsnews.db")  # no qsnews_index_text: may not desync the index
    plain.execute("update articles set section = '质量抽查' where id = ?", (article_id,))
    with pytest.raises(sqlite3.OperationalError, match="qsnews_index_text"):
        plain.execute("update articles set body = 'x' where id = ?", (article_id,))


def test_index_is_rebuilt_when_the_tokenizer_changes(tmp_path):
    path = tmp_path / "qsnews.db"
    with Archive(path) as arc:
        arc.upsert_article(record(), None, "t")
        arc.conn.create_function("qsnews_index_text", 1, lambda text: "stale", deterministic=True)
        arc.conn.execute("begin")
        schema.rebuild_index(arc.conn)  # as if indexed by another tokenizer version...
        arc.conn.execute("update qsnews_index set fingerprint = 'bigram-0'")
        arc.conn.execute("commit")
        assert not arc.conn.execute("select rowid from articles_fts where articles_fts match '\"校服\"'").fetchall()
    with Archive(path) as arc:  # ...which this version notices and redoes
        assert arc.conn.execute("select rowid from articles_fts where articles_fts match '\"校服\"'").fetchall()
        arc.conn.execute("insert into articles_fts(articles_fts) values ('integrity-check')")


def test_reprints_cluster_and_edits_become_versions(tmp_path):
    """The store keeps clusters and versions current: a traditional-script reprint joins the original's
    cluster, an unrelated story does not, and only a real change of a URL's body adds a version."""
    from archive.store import Archive

    body = ("近日，襄阳市市场监督管理局组织开展学生校服产品质量监督抽查，共抽查全市12家校服生产企业的30批次产品，"
            "检验项目包括纤维含量、甲醛含量、pH值、可分解致癌芳香胺染料等。抽查结果显示，28批次产品合格，"
            "2批次产品纤维含量不合格，已责令企业整改并依法立案查处。")
    other = ("湖北省市场监督管理局部署开展电梯安全隐患专项排查整治，要求各地对住宅小区、商场、医院等场所在用电梯"
             "逐台检查维护保养、应急救援和安全管理制度落实情况，发现隐患立即督促整改，确保电梯安全运行。")
    import opencc
    reprint = "（转载）" + opencc.OpenCC("s2t").convert(body)

    def record(url, text):
        return {"url": url, "title": text[:12], "body": text, "body_simplified": opencc.OpenCC("t2s").convert(text),
                "content_hash": str(hash(text)), "published_at": "2024-05-21T10:00:00+08:00", "paragraphs": []}

    with Archive(tmp_path / "a.db") as archive:
        source = archive.upsert_source({"name": "甲", "kind": "bureau", "level": "prefecture", "region_code": "420600"})
        original_id, _ = archive.upsert_article(record("http://a/1", body), source, "2024-05-21T10:00:00+08:00")
        reprint_id, _ = archive.upsert_article(record("http://b/1", reprint), source, "2024-05-22T10:00:00+08:00")
        other_id, _ = archive.upsert_article(record("http://a/2", other), source, "2024-05-22T10:00:00+08:00")
        archive.upsert_article(record("http://a/1", body), source, "2024-05-23T10:00:00+08:00")
        archive.upsert_article(record("http://a/1", body + "（更正）"), source, "2024-05-24T10:00:00+08:00")
        cluster = dict(archive.conn.execute("select id, cluster_id from articles").fetchall())
        versions = archive.conn.execute(
            "select version, diff from article_versions where article_id = ? order by version", (original_id,)).fetchall()
    assert cluster[original_id] == cluster[reprint_id] != cluster[other_id]
    assert [v[0] for v in versions] == [1, 2] and "+" in versions[1][1] and "更正" in versions[1][1]


def test_a_sources_recurring_furniture_is_learned_as_its_template(tmp_path):
    """A line on most of a source's archived pages becomes boilerplate for its next page; a recurring line
    the cleaning already explained (a 来源 meta line) is not learned."""
    from types import SimpleNamespace

    from archive.store import Archive
    from crawler.items import ArticleItem
    from crawler.registry import Source
    from pipelines.scrapy_adapter import CleanPipeline

    furniture = "扫一扫在手机打开当前页"
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        source_id = archive.upsert_source({"name": "甲局", "kind": "bureau", "level": "prefecture", "region_code": "420600"})
        for i in range(6):
            archive.upsert_article({"url": f"http://jia.gov.cn/{i}.html", "title": f"第{i}条", "body": f"正文{i}",
                                    "paragraphs": [{"position": 0, "kind": "meta", "text": "来源：甲局", "reason": "source"},
                                                   {"position": 1, "kind": "body", "text": f"第{i}篇报道的正文内容。"},
                                                   {"position": 2, "kind": "body", "text": furniture}]},
                                   source_id, "2024-01-01T00:00:00+08:00")
    source = Source(name="甲局", kind="bureau", level="prefecture", region_code="420600", cms="trs",
                    start_urls=("http://jia.gov.cn/",), allowed_domains=("jia.gov.cn",))
    pipeline = CleanPipeline(str(db))
    spider = SimpleNamespace(source=source)
    pipeline.open_spider(spider)
    html = ("<html><body><h1>襄阳市开展电梯安全检查</h1><div class='TRS_Editor'>"
            "<p>近日，襄阳市市场监督管理局对全市住宅小区电梯开展安全检查，共检查电梯三百余台。</p>"
            f"<p>{furniture}</p></div></body></html>")
    item = pipeline.process_item(ArticleItem(url="http://jia.gov.cn/7.html", html=html, source_name="甲局"), spider)
    kinds = {p["text"]: p["kind"] for p in item["record"]["paragraphs"]}
    assert kinds[furniture] == "boilerplate" and furniture not in item["record"]["body"]
    from pipelines.script import compact

    assert compact(furniture) in pipeline.source["template"]
    assert compact("来源：甲局") not in pipeline.source["template"]


def test_version_9_fills_the_reprint_samples_and_keeps_the_clusters(tmp_path):
    path = tmp_path / "v8.db"
    lines = ["市場監督管理局開展電梯安全專項檢查，共檢查電梯使用單位二十三家、電梯八十六台。",
             "檢查中發現部分電梯存在維護保養記錄不完整、應急救援電話不暢通等問題。",
             "該局要求各使用單位切實落實安全主體責任，確保節日期間電梯安全運行。"]
    with Archive(path) as arc:
        for k, body in enumerate(["\n".join(lines), "\n".join(lines[:2] + ["（轉載）"]), "校服質量抽查結果公布" * 5]):
            arc.upsert_article(record(url=f"http://a/{k}", body=body, paragraphs=[]), None, "t1")
        before = arc.conn.execute("select id, cluster_id from articles order by id").fetchall()
        arc.conn.execute("alter table article_minhash drop column sample")  # as version 8 left it
        arc.conn.execute("delete from qsnews_schema where version >= 9")
    with Archive(path) as arc:
        assert schema.current_version(arc.conn) == schema.LATEST
        assert arc.conn.execute("select count(*) from article_minhash where sample is null").fetchone()[0] == 0
        assert arc.conn.execute("select id, cluster_id from articles order by id").fetchall() == before
        assert before[0]["cluster_id"] == before[1]["cluster_id"] != before[2]["cluster_id"]


def automerge(conn) -> int | None:
    row = conn.execute("select v from articles_fts_config where k = 'automerge'").fetchone()
    return row[0] if row else None


def test_version_10_merges_index_segments_16_at_a_time_in_new_and_older_archives(tmp_path):
    with Archive(tmp_path / "new.db") as arc:
        assert automerge(arc.conn) == schema.FTS_AUTOMERGE == 16
    path = tmp_path / "v9.db"
    conn = connect(path)
    assert schema.migrate(conn, target=9) == 9
    assert automerge(conn) is None  # FTS5's default, 4
    conn.close()
    with Archive(path) as arc:
        assert automerge(arc.conn) == 16
        arc.conn.execute("insert into articles_fts(articles_fts) values ('delete-all')")  # as rebuild_index does
        assert automerge(arc.conn) == 16
