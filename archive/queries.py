"""Read queries behind the plugin's pages: ranked search, article view, raw copy, export.

Plain functions over a ``sqlite3.Connection`` so the Datasette views can run
them with ``db.execute_fn`` (off the event loop, no Datasette time limit on
the streamed export) and tests can call them directly.
"""
from __future__ import annotations

import sqlite3

from archive.schema import article_id
from archive.search import to_fts_query

# Equality filters the search page and the export accept, named as on Datasette's table page.
FILTER_COLUMNS = ("province", "prefecture", "county", "source_name", "section", "published_year", "source_id")
EXPORT_COLUMNS = ("id", "url", "title", "subtitle", "published_at", "source_name", "author", "editor", "section",
                  "province", "prefecture", "county", "region_code", "paragraph_count", "flags", "body")
# Title matches weigh more than body matches in the ranking.
RANK = "bm25(articles_fts, 4.0, 1.0)"
# Ranked search and the table page's search look at the newest SEARCH_WINDOW matching articles (by publication
# date): ranking, grouping and faceting every hit of a word found in most of a million articles cannot be done in
# an interactive time (BENCHMARKS.md).  Counts stay exact; the CSV export always covers every match.
SEARCH_WINDOW = 2000
HIT_ID = article_id("f.rowid")


def _dicts(cursor: sqlite3.Cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _filter_clauses(filters: dict, prefix: str = "") -> tuple[list[str], dict]:
    clauses, params = [], {}
    for column in FILTER_COLUMNS:
        if filters.get(column):
            clauses.append(f"a.{column} = :{prefix}{column}")
            params[prefix + column] = filters[column]
    return clauses, params


def _where(q: str | None, filters: dict) -> tuple[str, dict]:
    """Every article matching ``q`` and the filters (no window): what the export and the charts read."""
    clauses, params = _filter_clauses(filters)
    if q:
        clauses.insert(0, f"a.id in (select {HIT_ID} from articles_fts f where articles_fts match :match)")
        params["match"] = to_fts_query(q)
    return (" where " + " and ".join(clauses)) if clauses else "", params


def window_sql(filters: dict, score: bool = False, prefix: str = "") -> tuple[str, dict]:
    """SQL (and its filter params) for the ids of the newest ``:window`` articles matching ``:match``.

    FTS5 walks the doclist from its newest key down; with filters, each hit's row is checked on the way,
    and the walk stops at the window's last article (``:window`` -1: no window).  ``score`` adds each
    one's bm25 score.  ``prefix`` goes before every parameter name, to share a query with others' params.
    """
    clauses, params = _filter_clauses(filters, prefix)
    join = f" join articles a on a.id = {HIT_ID}" if clauses else ""
    where = "".join(f" and {c}" for c in clauses)
    columns = f"{HIT_ID} as id" + (f", {RANK} as score" if score else "")
    return (f"select {columns} from articles_fts f{join} where articles_fts match :{prefix}match{where} "
            f"order by f.rowid desc limit :{prefix}window"), params


def _filtered(filters: dict) -> bool:
    return any(filters.get(c) for c in FILTER_COLUMNS)


def count_matches(conn, q: str) -> int:
    """How many articles match ``q``: the index alone counts them, exactly."""
    return conn.execute("select count(*) from articles_fts where articles_fts match ?", (to_fts_query(q),)).fetchone()[0]


def window_ids(conn, q: str, filters: dict, window: int | None = None) -> tuple[list[int], int, bool]:
    """(ids of the newest ``window`` articles matching, newest first; matching articles; exact?).

    Without filters the count is the index's, exact.  With filters it is what the walk found: exact when
    the window is not full, a lower bound when it is, since checking each hit's row is what costs.
    """
    window = SEARCH_WINDOW if window is None else window
    sql, params = window_sql(filters)
    ids = [row[0] for row in conn.execute(sql, {**params, "match": to_fts_query(q), "window": window})]
    return (ids, *_matches(conn, q, filters, len(ids), window))


def _matches(conn, q: str, filters: dict, in_window: int, window: int) -> tuple[int, bool]:
    """(matching articles, exact?) given how many the window holds: see ``window_ids``."""
    if not _filtered(filters):
        return count_matches(conn, q), True
    return in_window, window < 0 or in_window < window


def ranked_search(conn, q: str, filters: dict, limit: int = 20, offset: int = 0,
                  window: int | None = None) -> dict:
    """One page of stories best first, among the newest ``window`` articles matching a search-box string.

    Returns ``matches`` (articles matching, ``exact`` false when that is a lower bound), ``ranked`` (how many
    of them were ranked: at most ``window``), ``stories`` (the stories those form) and ``rows``.  A story is a
    reprint cluster: shown once, as its canonical article, ranked by its best-matching copy, with
    ``reprints`` = how many other copies the archive holds.  Only the page's rows are read in full, and
    the window is walked once.
    """
    window = SEARCH_WINDOW if window is None else window
    hits, params = window_sql(filters, score=True)
    rows = _dicts(conn.execute(
        f"""with hit as materialized ({hits}),
                 story as (select coalesce(c.canonical_article_id, a.id) as story_id, min(hit.score) as score
                           from hit join articles a indexed by articles_id_cluster on a.id = hit.id
                           left join clusters c on c.id = a.cluster_id
                           group by story_id),
                 page as (select story_id, score, count(*) over () as total from story
                          order by score, story_id limit :limit offset :offset)
            select a.id, a.url, a.title, a.published_at, a.source_name, a.province, a.prefecture, a.county,
                   a.section, a.body, page.score, page.total, coalesce(c.size, 1) - 1 as reprints,
                   (select count(*) from hit) as ranked
            from page join articles a on a.id = page.story_id left join clusters c on c.id = a.cluster_id
            order by page.score, a.id""",
        {**params, "match": to_fts_query(q), "window": window, "limit": limit, "offset": offset},
    ))
    if not rows and offset:  # past the last page: still say how many there are
        first = ranked_search(conn, q, filters, 1, 0, window)
        return {**first, "rows": []}
    stories, ranked = (rows[0]["total"], rows[0]["ranked"]) if rows else (0, 0)
    matches, exact = _matches(conn, q, filters, ranked, window)
    return {"matches": matches, "exact": exact, "ranked": ranked, "stories": stories, "rows": rows}


def reprints(conn, article_id: int) -> list[dict]:
    """The other copies of an article's story, earliest first, with their sites."""
    return _dicts(conn.execute(
        """select r.id, r.title, r.url, r.published_at, r.source_name, s.name as site, s.kind as site_kind
           from articles a join articles r on r.cluster_id = a.cluster_id and r.id != a.id
           left join sources s on s.id = r.source_id
           where a.id = ? and a.cluster_id is not null
           order by r.published_at is null, r.published_at, r.id""",
        (article_id,),
    ))


def article(conn, article_id: int) -> dict | None:
    """The article row, its paragraphs in order, and whether a raw copy is on file."""
    rows = _dicts(conn.execute("select * from articles where id = ?", (article_id,)))
    if not rows:
        return None
    found = rows[0]
    found["paragraphs"] = _dicts(conn.execute(
        "select position, kind, text, reason from paragraphs where article_id = ? order by position", (article_id,)))
    found["page"] = raw_page(conn, article_id)
    found["reprints"] = reprints(conn, article_id)
    return found


def raw_page(conn, article_id: int) -> dict | None:
    """The ``pages`` row that holds the WARC location of the article's fetched copy."""
    rows = _dicts(conn.execute(
        """select p.url, p.fetched_at, p.content_type, p.encoding, p.warc_file, p.warc_offset
           from articles a join pages p on p.url in (a.url, a.canonical_url)
           where a.id = ? and p.warc_file is not null and p.warc_offset is not null
           order by p.url = a.url desc limit 1""",
        (article_id,),
    ))
    return rows[0] if rows else None


def export_ids(conn, q: str | None, filters: dict) -> list[int]:
    """Ids of every matching article, newest first, undated last.

    The export reads ids once (a few bytes per article, one sort) and then the
    rows in short chunks by id, so a whole-archive export neither holds a read
    transaction open nor re-sorts for every chunk.
    """
    where, params = _where(q, filters)
    sql = f"select a.id from articles a{where} order by a.published_at is null, a.published_at desc, a.id desc"
    return [row[0] for row in conn.execute(sql, params)]


def export_rows(conn, ids: list[int]) -> list[dict]:
    """The export columns of ``ids``, in the order given (an id deleted meanwhile is skipped)."""
    columns = ", ".join(EXPORT_COLUMNS)
    rows = _dicts(conn.execute(f"select {columns} from articles where id in ({', '.join('?' * len(ids))})", ids))
    by_id = {row["id"]: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]
