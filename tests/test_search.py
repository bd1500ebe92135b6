"""archive.search / archive.snippets: bigram index, query language, script-independent matching."""
import sqlite3

import pytest

from archive import snippets
from archive.search import index_text, parse_query, to_fts_query
from archive.snippets import aligned_simplified, highlight, snippet
from archive.store import Archive

ARTICLES = {
    "trad": ("市質監局開展校服質量抽查", "市質監局對全市中小學校服開展質量抽查。"),
    "simp": ("质监局发布抽查结果", "质监局今天发布了电梯抽查结果。"),
    "apparel": ("校园服装展示", "学生校园服装展示活动举行。"),
    "bags": ("书包质量抽查", "市场监管局抽查书包。"),
    "standard": ("GB 18401标准解读", "纺织品执行GB18401标准，A类适用于婴幼儿。"),
}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("search") / "qsnews.db"
    with Archive(path) as arc:
        ids = {key: arc.upsert_article({"url": f"http://x/{key}", "title": t, "body": b}, None, "t")[0]
               for key, (t, b) in ARTICLES.items()}
    return path, {v: k for k, v in ids.items()}


def found(db, query):
    path, names = db
    conn = sqlite3.connect(path)
    rows = conn.execute("select rowid from articles_fts where articles_fts match ?", (to_fts_query(query),))
    return {names[r[0]] for r in rows}


def test_index_text_is_bigrams_then_unigrams():
    assert index_text("質監局") == "质监 监局 质 监 局"
    assert index_text("GB18401标准") == "gb18401 标准 标 准"
    assert index_text("A类") == "a 类"


def test_simplified_query_finds_traditional_text_and_back(db):
    assert found(db, "质监") == {"trad", "simp"}
    assert found(db, "質監") == {"trad", "simp"}
    assert found(db, "質監局") == {"trad", "simp"}


def test_two_characters_match_the_word_not_its_characters(db):
    assert found(db, "校服") == {"trad"}
    assert found(db, "校园服装") == {"apparel"}


def test_one_character_query_matches_single_characters(db):
    assert found(db, "服") == {"trad", "apparel"}
    assert found(db, "类") == {"standard"}


def test_whitespace_is_and(db):
    assert found(db, "抽查 书包") == {"bags"}
    assert found(db, "抽查") == {"trad", "simp", "bags"}


def test_quotes_are_phrases(db):
    assert found(db, '"质量抽查"') == {"trad", "bags"}
    assert found(db, '"抽查质量"') == set()
    assert found(db, "“电梯抽查”") == {"simp"}


def test_or_and_minus(db):
    assert found(db, "校服 OR 书包") == {"trad", "bags"}
    assert found(db, "抽查 -书包") == {"trad", "simp"}
    assert found(db, '抽查 -"质监局"') == {"bags"}
    assert found(db, "-抽查") == set()


def test_latin_words_and_numbers(db):
    assert found(db, "gb18401") == {"standard"}
    assert found(db, "GB18401标准") == {"standard"}
    assert found(db, "18401") == {"standard"}


def test_query_translation_never_breaks_fts_syntax(db):
    for nasty in ['"', 'a"b', "OR", "NOT AND", "(", "*", "-", "col:x", "!!!", ""]:
        found(db, nasty)


def test_parse_query_groups():
    q = parse_query('校服 OR 书包 "质量 抽查" -幼儿园')
    assert q.groups == (("校服", "书包"), ("质量 抽查",))
    assert q.excluded == ("幼儿园",)


def test_plain_sqlite_reads_the_index_without_the_plugin(db):
    path, names = db
    conn = sqlite3.connect(path)  # no plugin, no Python search code: just the index
    rows = conn.execute("""select a.title from articles_fts join articles a on a.id = articles_fts.rowid
                           where articles_fts match '"校服"'""").fetchall()
    assert rows == [("市質監局開展校服質量抽查",)]


def test_highlights_stay_in_the_articles_script():
    q = parse_query("质监 校服")
    assert str(highlight("市質監局<b>校服", q)) == "市<mark>質監</mark>局&lt;b&gt;<mark>校服</mark>"
    long = "前言" * 100 + "市質監局對校服開展抽查。" + "後記" * 100
    out = str(snippet(long, q, width=40))
    assert "<mark>質監</mark>" in out and "<mark>校服</mark>" in out
    assert out.startswith("…") and out.endswith("…")


def test_alignment_falls_back_when_conversion_changes_length(monkeypatch):
    real = snippets.to_simplified
    monkeypatch.setattr(snippets, "to_simplified", lambda text: real(text) + ("X" if len(text) > 1 else ""))
    text = "質監局抽查"
    assert aligned_simplified(text) == "质监局抽查"
    assert str(highlight(text, parse_query("抽查"))) == "質監局<mark>抽查</mark>"


def test_ranked_search_puts_title_matches_first(tmp_path):
    from archive.queries import ranked_search

    with Archive(tmp_path / "qsnews.db") as arc:
        body_only, _ = arc.upsert_article({"url": "http://x/1", "title": "工作动态",
                                           "body": "会上提到电梯安全。" + "其他内容。" * 20}, None, "t")
        in_title, _ = arc.upsert_article({"url": "http://x/2", "title": "電梯安全大檢查",
                                          "body": "開展電梯安全檢查。" + "其他內容。" * 20}, None, "t")
        total, rows = ranked_search(arc.conn, "电梯", {}, limit=10)
        assert total == 2 and [r["id"] for r in rows] == [in_title, body_only]
        assert ranked_search(arc.conn, "电梯", {"province": "浙江省"})[0] == 0
