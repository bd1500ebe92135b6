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
    """(number of stories hit, one page of stories best first) for a search-box string.

    A story is a reprint cluster: it is shown once, as its canonical article, ranked by its best-matching
    copy, with ``reprints`` = how many other copies the archive holds.  Without filters the step from a
    hit to its cluster reads the narrow index ``articles_id_cluster`` only, never the article rows (whose
    bodies are long), and only the page's rows are read in full.
    """
    filtered = any(filters.get(c) for c in FILTER_COLUMNS)
    only_filters, params = _where(None, filters)
    lookup = "articles a" if filtered else "articles a indexed by articles_id_cluster"
    rows = _dicts(conn.execute(
        f"""with hit as materialized (select rowid as id, {RANK} as score from articles_fts where articles_fts match :match),
                 story as (select coalesce(c.canonical_article_id, a.id) as story_id, min(hit.score) as score
                           from hit join {lookup} on a.id = hit.id
                           left join clusters c on c.id = a.cluster_id{only_filters}
                           group by story_id),
                 page as (select story_id, score, count(*) over () as total from story
                          order by score, story_id limit :limit offset :offset)
            select a.id, a.url, a.title, a.published_at, a.source_name, a.province, a.prefecture, a.county,
                   a.section, a.body, page.score, page.total, coalesce(c.size, 1) - 1 as reprints
            from page join articles a on a.id = page.story_id left join clusters c on c.id = a.cluster_id
            order by page.score, a.id""",
        {**params, "match": to_fts_query(q), "limit": limit, "offset": offset},
    ))
    return (rows[0]["total"] if rows else 0), rows


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
