"""Article versions: what a government page said before it was quietly edited.

Every fetch of an article calls ``record_version``; a row is added only when the
cleaned content (``content_hash``, the sha256 of ``body_simplified``) differs from
the latest recorded version, so a re-fetch of an unchanged page, or of the same
text in the other script, adds nothing.  Each later version carries a unified
diff of the bodies against the one before, line by line (one line = one
paragraph), ready to show a journalist what changed.

Schema addition (the store's migration should own it; ``ensure_tables`` creates
it meanwhile)::

    CREATE TABLE IF NOT EXISTS article_versions (
        article_id INTEGER NOT NULL,
        version INTEGER NOT NULL,        -- 1, 2, ... per article
        fetched_at TEXT NOT NULL,        -- when this content was first seen
        content_hash TEXT NOT NULL,
        body TEXT,
        diff TEXT,                       -- unified diff from the previous version; NULL for version 1
        PRIMARY KEY (article_id, version)
    );
"""
from __future__ import annotations

import difflib
import sqlite3

DDL = """CREATE TABLE IF NOT EXISTS article_versions (
    article_id INTEGER NOT NULL, version INTEGER NOT NULL, fetched_at TEXT NOT NULL,
    content_hash TEXT NOT NULL, body TEXT, diff TEXT, PRIMARY KEY (article_id, version))"""


def _conn(db) -> sqlite3.Connection:
    return getattr(db, "conn", db)


def ensure_tables(db) -> None:
    _conn(db).execute(DDL)


def unified_diff(old: str, new: str, old_label: str, new_label: str) -> str:
    """Line-by-line unified diff of two bodies, as text."""
    lines = difflib.unified_diff(
        (old or "").splitlines(), (new or "").splitlines(), fromfile=old_label, tofile=new_label, lineterm=""
    )
    return "\n".join(lines)


def record_version(db, article_id: int, fetched_at: str, body: str, content_hash: str) -> int | None:
    """Record the article's content as fetched at ``fetched_at``; return the new version number.

    Returns None when ``content_hash`` equals the latest version's: nothing changed.
    Joins the caller's transaction when one is open, else commits its own.
    """
    conn = _conn(db)
    if conn.in_transaction:
        return _record(conn, article_id, fetched_at, body, content_hash)
    conn.execute("BEGIN IMMEDIATE")  # read the latest and write the next under one lock
    try:
        version = _record(conn, article_id, fetched_at, body, content_hash)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return version


def _record(conn, article_id: int, fetched_at: str, body: str, content_hash: str) -> int | None:
    if not content_hash:
        raise ValueError("content_hash is required: it decides whether the content changed")
    ensure_tables(conn)
    latest = conn.execute(
        "SELECT version, content_hash, body, fetched_at FROM article_versions"
        " WHERE article_id = ? ORDER BY version DESC LIMIT 1",
        (article_id,),
    ).fetchone()
    if latest is not None and latest[1] == content_hash:
        return None
    version = 1 if latest is None else latest[0] + 1
    diff = None
    if latest is not None:
        diff = unified_diff(latest[2], body, f"version {latest[0]} ({latest[3]})", f"version {version} ({fetched_at})")
    row = (article_id, version, fetched_at, content_hash, body, diff)
    conn.execute("INSERT INTO article_versions (article_id, version, fetched_at, content_hash, body, diff)"
                 " VALUES (?, ?, ?, ?, ?, ?)", row)
    return version


def backfill(db) -> int:
    """Give every stored article without versions its version 1: the body it has now.

    Run once when ``article_versions`` is added to an existing archive, so the first
    change seen after the upgrade has a previous version to diff against.  The
    stored body was certainly served at ``last_seen_at``, which becomes its
    ``fetched_at``.  Returns the number of versions written.
    """
    conn = _conn(db)
    ensure_tables(conn)
    joined = conn.in_transaction
    cur = conn.execute(
        "INSERT INTO article_versions (article_id, version, fetched_at, content_hash, body, diff)"
        " SELECT a.id, 1, COALESCE(a.last_seen_at, a.first_seen_at, ''), a.content_hash, a.body, NULL"
        " FROM articles a WHERE a.content_hash IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM article_versions v WHERE v.article_id = a.id)"
    )
    if not joined and conn.in_transaction:  # a legacy-mode connection opened one for us
        conn.commit()
    return cur.rowcount
