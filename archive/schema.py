"""The archive's SQLite schema, created and migrated by code.

Each migration is a numbered step applied once, in order, inside one
``BEGIN IMMEDIATE`` transaction that also re-reads the version, so two
processes opening an old database at the same time cannot both migrate it.
The applied steps are recorded in ``qsnews_schema`` (hidden in Datasette);
its presence is also how the Datasette plugin recognises an archive.

Table and column names are the public contract (notes/contracts.md): add,
never rename.  Everything stays readable by plain SQLite: the search index
is an ordinary FTS5 table with the default ``unicode61`` tokenizer over
pre-tokenised text (see ``archive.search``); changing an article's title or
body needs the ``qsnews_index_text`` function the archive registers.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone

from archive import search

VERSION_TABLE = "qsnews_schema"
INDEX_TABLE = "qsnews_index"
FTS_TABLE = "articles_fts"
# FTS5 merges a level's index segments once it has this many (its default: 4).  A crawl writes the index in
# batches of up to 200 articles, each a new segment; merging them 16 at a time rewrites each entry about half
# as often, ~0.2 ms less per article stored, for more segments for a query to read (BENCHMARKS.md).
FTS_AUTOMERGE = 16

_V1_TABLES = """
create table if not exists sources (
    id integer primary key,
    name text not null unique,
    kind text,                 -- bureau / portal / mirror
    level text,                -- national / province / prefecture / county
    region_code text,          -- 6-digit administrative division code
    province text,
    prefecture text,
    county text,
    cms text,
    homepage text,
    start_urls text,           -- one URL per line
    status text not null default 'new'
);
create table if not exists pages (
    url text primary key,
    source_id integer references sources(id),
    fetched_at text,
    http_status integer,
    content_type text,
    encoding text,
    sha256 text,
    warc_file text,
    warc_offset integer,
    outcome text check (outcome in ('article', 'list', 'attachment', 'skipped', 'error', 'blocked')),
    reason text
);
create table if not exists articles (
    id integer primary key,
    url text not null unique,
    canonical_url text,
    source_id integer references sources(id),
    title text,
    title_derived integer not null default 0 check (title_derived in (0, 1)),
    subtitle text,
    published_at text,         -- ISO 8601 with offset, e.g. 2016-04-18T08:32:30+08:00
    published_raw text,
    source_name text,          -- 来源 as printed on the page
    author text,
    editor text,
    section text,
    province text,
    prefecture text,
    county text,
    region_code text,
    body text,                 -- body paragraphs joined by newlines, in the source's script
    body_simplified text,
    paragraph_count integer,
    flags text not null default '[]',  -- JSON array of strings
    content_hash text,
    first_seen_at text,
    last_seen_at text
);
create table if not exists paragraphs (
    article_id integer not null references articles(id) on delete cascade,
    position integer not null,
    kind text not null,
    text text not null,
    reason text,
    primary key (article_id, position)
);
create table if not exists crawl_runs (
    id integer primary key,
    started_at text not null,
    finished_at text,
    source_id integer references sources(id),
    requests integer,
    new_articles integer,
    updated_articles integer,
    errors integer,
    blocked integer,
    status text not null default 'running'
);
create index if not exists articles_published_at on articles(published_at);
create index if not exists articles_source_id on articles(source_id);
create index if not exists articles_region on articles(province, prefecture, county);
create index if not exists articles_content_hash on articles(content_hash);
create index if not exists pages_source_id on pages(source_id);
create index if not exists crawl_runs_source_id on crawl_runs(source_id);
"""


def _v1_tables(conn: sqlite3.Connection) -> None:
    for statement in _V1_TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)


_INDEXED = f"{search.INDEX_FUNCTION}({{0}}.title), {search.INDEX_FUNCTION}({{0}}.body)"
# The search index's rowid for an article: its publication day in the high bits (0 when undated, so undated
# articles count as the oldest, as they sort last on the newest-first table page) and its id in the low 32.
# FTS5 keeps every word's hits in rowid order, so "the newest N articles matching" is a read of the tail of a
# doclist, whatever order the articles were archived in.
ID_BITS = 32
ARTICLE_ID_MASK = (1 << ID_BITS) - 1


def search_key(row: str) -> str:
    """SQL for the search key of ``row`` (an alias such as ``a``, or ``new`` / ``old`` in a trigger)."""
    day = f"julianday(substr({row}.published_at, 1, 10))"
    return f"((coalesce(cast({day} as integer), 0) << {ID_BITS}) | {row}.id)"


def article_id(key: str = "rowid") -> str:
    """SQL for the article id held in a search key: ``articles.id = articles_fts.rowid & 4294967295``."""
    return f"({key} & {ARTICLE_ID_MASK})"


_FTS_TRIGGERS = (
    f"""create trigger articles_fts_insert after insert on articles when not {search.INDEX_LATER_FUNCTION}() begin
        insert into {FTS_TABLE}(rowid, title, body) values ({search_key("new")}, {_INDEXED.format("new")});
    end""",
    f"""create trigger articles_fts_delete after delete on articles begin
        insert into {FTS_TABLE}({FTS_TABLE}, rowid, title, body)
        values ('delete', {search_key("old")}, {_INDEXED.format("old")});
    end""",
    f"""create trigger articles_fts_update after update of title, body, published_at on articles
        when old.title is not new.title or old.body is not new.body or {search_key("old")} != {search_key("new")}
    begin
        insert into {FTS_TABLE}({FTS_TABLE}, rowid, title, body)
        values ('delete', {search_key("old")}, {_INDEXED.format("old")});
        insert into {FTS_TABLE}(rowid, title, body) values ({search_key("new")}, {_INDEXED.format("new")});
    end""",
)


def index_articles(conn: sqlite3.Connection, article_ids: list[int]) -> None:
    """Index new articles whose insert trigger stepped aside (``qsnews_index_later``), in one statement.

    Why not the trigger: an INSERT that fires triggers runs inside a statement savepoint, and FTS5 flushes
    its in-memory index to a new segment at every savepoint once it has been written in the transaction,
    so a batch indexed row by row writes one segment per article.  One statement in key order at the end
    of the batch lets FTS5 gather the batch in memory and write it once: half the index work.
    """
    if article_ids:
        conn.execute(f"insert into {FTS_TABLE}(rowid, title, body) select {search_key('a')}, {_INDEXED.format('a')} "
                     "from articles a where a.id in (select value from json_each(?)) order by 1",
                     (json.dumps(article_ids),))


def _install_triggers(conn: sqlite3.Connection) -> None:
    for name in ("insert", "delete", "update"):
        conn.execute(f"drop trigger if exists {FTS_TABLE}_{name}")
    for trigger in _FTS_TRIGGERS:
        conn.execute(trigger)


def _v2_search_index(conn: sqlite3.Connection) -> None:
    """The bigram index (rowid = the search key, see ``search_key``), kept current by triggers, filled for existing articles.

    Contentless (``content=''``): the token text is about as big as the rest
    of an article put together, and nothing reads it back (snippets come from
    ``articles.body``), so only the index is kept — the database is ~40%
    smaller.  The price is that removing an entry needs the tokens it was
    indexed with; the triggers recompute them from the old row, so they must
    be produced by the same code: ``qsnews_index`` records a fingerprint of
    tokenizer and OpenCC versions and a mismatch rebuilds the whole index.
    Writers without the ``qsnews_index_text`` function (plain sqlite3) get an
    error instead of a silently stale index when they touch a title or body.
    """
    conn.execute(f"create virtual table {FTS_TABLE} using fts5(title, body, content = '', tokenize = 'unicode61')")
    _install_triggers(conn)
    conn.execute(f"create table {INDEX_TABLE} (fingerprint text not null)")
    rebuild_index(conn)


def rebuild_index(conn: sqlite3.Connection) -> None:
    """Re-tokenise every article (inside the caller's transaction)."""
    conn.execute(f"insert into {FTS_TABLE}({FTS_TABLE}) values ('delete-all')")
    conn.execute(f"insert into {FTS_TABLE}(rowid, title, body) select {search_key('a')}, {_INDEXED.format('a')} "
                 "from articles a")
    conn.execute(f"delete from {INDEX_TABLE}")
    conn.execute(f"insert into {INDEX_TABLE}(fingerprint) values (?)", (search.index_fingerprint(),))


def _v3_published_year(conn: sqlite3.Connection) -> None:
    """A virtual generated column so Datasette can facet articles by year on the table page itself."""
    conn.execute(
        "alter table articles add column published_year text "
        "generated always as (substr(published_at, 1, 4)) virtual"
    )


def _v4_page_validators(conn: sqlite3.Connection) -> None:
    """The ETag and Last-Modified a page was served with, so the next crawl can ask 'changed since?'."""
    conn.execute("alter table pages add column etag text")
    conn.execute("alter table pages add column last_modified text")


def _v5_reprints_and_versions(conn: sqlite3.Connection) -> None:
    """Reprint clusters (with their persistent LSH index) and article versions; existing archives are
    backfilled so the first edit after the upgrade has a version 1 to diff against."""
    from archive import cluster_rebuild, clusters, versions

    clusters.ensure_tables(conn)
    versions.ensure_tables(conn)
    versions.backfill(conn)
    if conn.execute("select exists (select 1 from articles)").fetchone()[0]:  # a new archive has none to cluster
        cluster_rebuild.rebuild(conn)


def _v6_story_lookup(conn: sqlite3.Connection) -> None:
    """A narrow (id, cluster_id) index: ranked search maps every hit to its story without reading article
    rows, where cluster_id sits behind the long body (it was added by ALTER TABLE)."""
    conn.execute("create index if not exists articles_id_cluster on articles(id, cluster_id)")


def _v7_date_ordered_index(conn: sqlite3.Connection) -> None:
    """Re-key the search index by date (``search_key``): capped searches read the newest hits first.

    Before, the index's rowid was ``articles.id``, i.e. archive order, which a first crawl writes newest
    first and a later one oldest first; ranking or listing "the newest N matches" needs date order.
    """
    _install_triggers(conn)
    rebuild_index(conn)


def _v9_reprint_samples(conn: sqlite3.Connection) -> None:
    """``article_minhash.sample``: the sampled shingles, which rule out most unsure reprint candidates without
    reading their texts.  Filled by recomputing the clusters (the same ones, bar a chance of 1e-6 per pair)."""
    from archive import cluster_rebuild, clusters

    clusters.ensure_tables(conn)
    if conn.execute("select exists (select 1 from article_minhash where sample is null)").fetchone()[0]:
        cluster_rebuild.rebuild(conn)


def _v10_index_automerge(conn: sqlite3.Connection) -> None:
    """Merge index segments 16 at a time (``FTS_AUTOMERGE``); a setting of the index, kept by its rebuilds."""
    conn.execute(f"insert into {FTS_TABLE}({FTS_TABLE}, rank) values ('automerge', {FTS_AUTOMERGE})")


MIGRATIONS = (
    (1, "core tables: sources, pages, articles, paragraphs, crawl_runs", _v1_tables),
    (2, "articles_fts: bigram full-text index", _v2_search_index),
    (3, "articles.published_year for the year facet", _v3_published_year),
    (4, "pages.etag and pages.last_modified for conditional GET", _v4_page_validators),
    (5, "clusters, article_minhash, lsh_bands, article_versions; articles.cluster_id", _v5_reprints_and_versions),
    (6, "articles_id_cluster: hit -> story lookup for ranked search", _v6_story_lookup),
    (7, "articles_fts keyed by date: rowid = day << 32 | article id", _v7_date_ordered_index),
    (8, "articles_fts_insert steps aside while the writer indexes a batch itself", _install_triggers),
    (9, "article_minhash.sample: sampled shingles rule out reprint candidates", _v9_reprint_samples),
    (10, "articles_fts merges its segments 16 at a time", _v10_index_automerge),
)
LATEST = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", (VERSION_TABLE,)).fetchone()
    if not exists:
        return 0
    return conn.execute(f"select coalesce(max(version), 0) from {VERSION_TABLE}").fetchone()[0]


@contextmanager
def transaction(conn: sqlite3.Connection):
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: takes the write lock up front, so concurrent writers wait, not fail."""
    conn.execute("begin immediate")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite has already rolled back after a full disk or I/O error
            conn.execute("rollback")
        raise
    conn.execute("commit")


def _fingerprint(conn: sqlite3.Connection) -> str | None:
    row = conn.execute(f"select fingerprint from {INDEX_TABLE}").fetchone()
    return row[0] if row else None


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> int:
    """Bring the database up to ``target`` and its index up to this code; a no-op when both are. Returns the version.

    ``conn`` must be in autocommit mode (``isolation_level=None``) so the
    transactions here are the only ones.  Registers ``qsnews_index_text`` on it.
    """
    search.register_functions(conn)
    if current_version(conn) < target:
        with transaction(conn):
            conn.execute(
                f"create table if not exists {VERSION_TABLE} "
                "(version integer primary key, description text not null, applied_at text not null)"
            )
            done = current_version(conn)
            for version, description, step in MIGRATIONS:
                if done < version <= target:
                    step(conn)
                    conn.execute(
                        f"insert into {VERSION_TABLE}(version, description, applied_at) values (?, ?, ?)",
                        (version, description, datetime.now(timezone.utc).isoformat(timespec="seconds")),
                    )
    if current_version(conn) >= 2 and _fingerprint(conn) != search.index_fingerprint():
        with transaction(conn):
            if _fingerprint(conn) != search.index_fingerprint():
                rebuild_index(conn)
    return current_version(conn)


def is_archive(conn: sqlite3.Connection) -> bool:
    """True for a qsnews archive with its search index: what the Datasette plugin checks."""
    names = {row[0] for row in conn.execute(
        "select name from sqlite_master where name in (?, ?)", (VERSION_TABLE, FTS_TABLE)
    )}
    return names == {VERSION_TABLE, FTS_TABLE}
