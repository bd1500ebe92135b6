"""Read queries behind the plugin's pages: ranked search, article view, raw copy, export.

Plain functions over a ``sqlite3.Connection`` so the Datasette views can run
them with ``db.execute_fn`` (off the event loop, no Datasette time limit on
the streamed export) and tests can call them directly.
"""
from __future__ import annotations

import sqlite3

from archive.search import to_fts_query

# Equality filters the search page and the export accept, named as on Datasette's table page.
FILTER_COLUMNS = ("province", "prefecture", "county", "source_name", "section", "published_year", "source_id")
EXPORT_COLUMNS = ("id", "url", "title", "subtitle", "published_at", "source_name", "author", "editor", "section",
                  "province", "prefecture", "county", "region_code", "paragraph_count", "flags", "body")
# Title matches weigh more than body matches in the ranking.
RANK = "bm25(articles_fts, 4.0, 1.0)"


def _dicts(cursor: sqlite3.Cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _where(q: str | None, filters: dict) -> tuple[str, dict]:
    clauses, params = [], {}
    if q:
        clauses.append("a.id in (select rowid from articles_fts where articles_fts match :match)")
        params["match"] = to_fts_query(q)
    for column in FILTER_COLUMNS:
        if filters.get(column):
            clauses.append(f"a.{column} = :{column}")
            params[column] = filters[column]
    return (" where " + " and ".join(clauses)) if clauses else "", params


def ranked_search(conn, q: str, filters: dict, limit: int = 20, offset: int = 0) -> tuple[int, list[dict]]:
    """(number of hits, one page of hits best first) for a search-box string.

    Without filters both steps stay inside the index: the count never probes
    ``articles`` and the ranking sorts (rowid, score) pairs only, so just the
    page's rows are read — at 1M articles a common bigram matches most of them,
    and carrying every hit's body through the sort cost seconds (bench/search.py).
    """
    if not any(filters.get(c) for c in FILTER_COLUMNS):
        match = {"match": to_fts_query(q)}
        total = conn.execute("select count(*) from articles_fts where articles_fts match :match", match).fetchone()[0]
        rows = _dicts(conn.execute(
            f"""select a.id, a.url, a.title, a.published_at, a.source_name, a.province, a.prefecture, a.county,
                       a.section, a.body, hit.score
                from (select rowid, {RANK} as score from articles_fts where articles_fts match :match
                      order by score, rowid limit :limit offset :offset) hit
                join articles a on a.id = hit.rowid
                order by hit.score, a.id""",
            {**match, "limit": limit, "offset": offset},
        ))
        return total, rows
    where, params = _where(q, filters)
    total = conn.execute(f"select count(*) from articles a{where}", params).fetchone()[0]
    only_filters, _ = _where(None, filters)
    rows = _dicts(conn.execute(
        f"""select a.id, a.url, a.title, a.published_at, a.source_name, a.province, a.prefecture, a.county,
                   a.section, a.body, {RANK} as score
            from articles_fts join articles a on a.id = articles_fts.rowid
            where articles_fts match :match{only_filters.replace(" where ", " and ", 1)}
            order by score, a.id limit :limit offset :offset""",
        {**params, "limit": limit, "offset": offset},
    ))
    return total, rows


def article(conn, article_id: int) -> dict | None:
    """The article row, its paragraphs in order, and whether a raw copy is on file."""
    rows = _dicts(conn.execute("select * from articles where id = ?", (article_id,)))
    if not rows:
        return None
    found = rows[0]
    found["paragraphs"] = _dicts(conn.execute(
        "select position, kind, text, reason from paragraphs where article_id = ? order by position", (article_id,)))
    found["page"] = raw_page(conn, article_id)
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
