"""archive.search / archive.snippets: bigram index, query language, script-independent matching."""
import re
import sqlite3
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import snippets
from archive.search import HAN, index_text, normalise, parse_query, runs, term_tokens, to_fts_query
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
    rows = conn.execute("select rowid & 4294967295 from articles_fts where articles_fts match ?", (to_fts_query(query),))
    return {names[r[0]] for r in rows}


def test_index_text_is_bigrams_then_unigrams():
    assert index_text("質監局") == "质监 监局 质 监 局"
    assert index_text("GB18401标准") == "gb18401 标准 标 准"
    assert index_text("A类") == "a 类"


HAN_START = re.compile(f"[{HAN}]")


def _layout(text):
    """The token layout of archive.search's docstring, run by run: what the vectorised indexer must write."""
    main, tail = [], []
    for run in runs(normalise(text)):
        if len(run) > 1 and HAN_START.match(run):  # runs() never mixes Han with other letters
            main += [a + b for a, b in pairwise(run)]
            tail += list(run)
        else:
            main.append(run)
    return main, tail


def test_index_text_edge_cases():
    assert index_text("") == index_text(None) == ""
    assert index_text("，。 _ —") == ""
    assert index_text("质") == "质"
    assert index_text("a_b 12") == "a b 12"
    assert index_text("〇一") == "〇一 〇 一"
    assert index_text("\U00020000\U00020001x") == "\U00020000\U00020001 x \U00020000 \U00020001"
    assert index_text("\U0001F600质\U0001D400") == "质 a"  # an emoji is neither; NFKC makes the math letter an a
    assert term_tokens("，") == []


# Han, letters and digits of several scripts, astral characters, underscores, punctuation and spaces.
TEXT = st.text(alphabet="质监局校服標準〇\u9fff\u4dc0\u3400\uf900\U00020000\U0002a6e0ab XYZ_1２③Ⅻαβéﬁ，。!?\u3000\t\n-"
                        "\U0001d400\U0001f600", max_size=40)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_index_text_writes_the_documented_layout(text):
    main, tail = _layout(text)
    assert index_text(text) == " ".join(main + tail)
    assert term_tokens(text) == main


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
    rows = conn.execute("""select a.title from articles_fts join articles a on a.id = articles_fts.rowid & 4294967295
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
        result = ranked_search(arc.conn, "电梯", {}, limit=10)
        assert (result["matches"], result["exact"], result["stories"]) == (2, True, 2)
        assert [r["id"] for r in result["rows"]] == [in_title, body_only]
        assert ranked_search(arc.conn, "电梯", {"province": "浙江省"})["matches"] == 0


def _dated_archive(path):
    """Five 校服 stories archived newest first (as a first crawl walks a list), one with 校服 in its title."""
    arc = Archive(path)
    ids = []
    for n, year in enumerate([2024, 2023, 2022, 2021, 2020]):
        title = "校服质量抽查" if year == 2020 else f"工作动态{n}"
        ids.append(arc.upsert_article({"url": f"http://x/{year}", "title": title, "province": "浙江省" if n % 2 else "江苏省",
                                       "body": f"会上提到校服。{'其他内容。' * (5 + n)}",
                                       "published_at": f"{year}-05-01T09:00:00+08:00"}, None, "2026-01-01T00:00:00+00:00")[0])
    return arc, ids


def test_ranked_search_ranks_the_newest_published_matches_not_the_last_archived(tmp_path):
    from archive.queries import ranked_search, window_ids

    arc, ids = _dated_archive(tmp_path / "qsnews.db")
    with arc:
        everything = ranked_search(arc.conn, "校服", {}, window=10)
        assert everything["rows"][0]["id"] == ids[-1]  # the title match ranks first when it is in the window
        windowed = ranked_search(arc.conn, "校服", {}, window=3)
        assert (windowed["matches"], windowed["exact"], windowed["ranked"], windowed["stories"]) == (5, True, 3, 3)
        assert sorted(r["id"] for r in windowed["rows"]) == sorted(ids[:3])  # 2024, 2023, 2022
        # Filters apply inside the window: the newest 浙江省 matches, not the 浙江省 ones among the newest overall.
        zhejiang = ranked_search(arc.conn, "校服", {"province": "浙江省"}, window=2)
        assert sorted(r["id"] for r in zhejiang["rows"]) == sorted([ids[1], ids[3]])
        assert (zhejiang["matches"], zhejiang["exact"]) == (2, False)  # a full window: at least 2
        assert window_ids(arc.conn, "校服", {"province": "浙江省"}, window=3) == ([ids[1], ids[3]], 2, True)
        assert window_ids(arc.conn, "校服", {"province": "浙江省"}, window=-1) == ([ids[1], ids[3]], 2, True)
        assert window_ids(arc.conn, "校服", {}, window=2) == (ids[:2], 5, True)  # newest first, exact count


def test_a_new_date_moves_an_article_in_the_window(tmp_path):
    from archive.queries import ranked_search

    arc, ids = _dated_archive(tmp_path / "qsnews.db")
    with arc:
        arc.conn.execute("update articles set published_at = '2025-01-01T00:00:00+08:00' where id = ?", (ids[-1],))
        newest = ranked_search(arc.conn, "校服", {}, window=1)["rows"]
        assert [r["id"] for r in newest] == [ids[-1]]
        arc.conn.execute("update articles set published_at = null where id = ?", (ids[0],))  # undated: the oldest
        assert [r["id"] for r in ranked_search(arc.conn, "校服", {}, window=1)["rows"]] == [ids[-1]]
        assert ranked_search(arc.conn, "校服", {}, window=4)["stories"] == 4
        assert ids[0] not in [r["id"] for r in ranked_search(arc.conn, "校服", {}, window=4)["rows"]]
        arc.conn.execute("insert into articles_fts(articles_fts) values ('integrity-check')")


def test_canned_ranked_search_uses_the_same_window():
    from archive.queries import SEARCH_WINDOW
    from archive.serve import METADATA

    assert f"limit {SEARCH_WINDOW})" in METADATA.read_text(encoding="utf-8")
