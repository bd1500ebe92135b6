"""Article versions: a row only when the cleaned content changed, with a diff against the previous one."""
import hashlib
import sqlite3

import pytest

from archive import versions


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    versions.ensure_tables(conn)
    return conn


def rows(conn):
    return conn.execute("SELECT version, fetched_at, content_hash, body, diff FROM article_versions"
                        " WHERE article_id = 7 ORDER BY version").fetchall()


FIRST = "咸宁市市场监管局抽查校服36批次。\n合格32批次，不合格4批次。\n已责令企业整改。"
EDITED = "咸宁市市场监管局抽查校服36批次。\n合格33批次，不合格3批次。\n已责令企业整改。"


def test_first_fetch_is_version_one_without_diff(db):
    assert versions.record_version(db, 7, "2024-09-10T09:00:00+00:00", FIRST, sha(FIRST)) == 1
    assert rows(db) == [(1, "2024-09-10T09:00:00+00:00", sha(FIRST), FIRST, None)]


def test_refetch_of_unchanged_content_adds_nothing(db):
    versions.record_version(db, 7, "2024-09-10T09:00:00+00:00", FIRST, sha(FIRST))
    assert versions.record_version(db, 7, "2024-09-11T09:00:00+00:00", FIRST, sha(FIRST)) is None
    assert len(rows(db)) == 1


def test_quiet_edit_is_a_new_version_with_a_unified_diff(db):
    versions.record_version(db, 7, "2024-09-10T09:00:00+00:00", FIRST, sha(FIRST))
    assert versions.record_version(db, 7, "2024-09-12T09:00:00+00:00", EDITED, sha(EDITED)) == 2
    version, fetched_at, content_hash, body, diff = rows(db)[1]
    assert (version, fetched_at, content_hash, body) == (2, "2024-09-12T09:00:00+00:00", sha(EDITED), EDITED)
    lines = diff.splitlines()
    assert lines[0].startswith("--- version 1") and lines[1].startswith("+++ version 2")
    assert "-合格32批次，不合格4批次。" in lines and "+合格33批次，不合格3批次。" in lines
    assert " 已责令企业整改。" in lines  # context, unchanged


def test_reverting_an_edit_is_a_change_too(db):
    for day, body in (("10", FIRST), ("11", EDITED), ("12", FIRST)):
        versions.record_version(db, 7, f"2024-09-{day}T09:00:00+00:00", body, sha(body))
    assert [r[0] for r in rows(db)] == [1, 2, 3]
    assert versions.record_version(db, 8, "2024-09-12T09:00:00+00:00", FIRST, sha(FIRST)) == 1  # per article


def test_joins_the_callers_transaction(db):
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.execute("INSERT INTO t VALUES (1)")  # the store's own write opens a transaction
    versions.record_version(db, 7, "2024-09-10T09:00:00+00:00", FIRST, sha(FIRST))
    db.rollback()
    assert rows(db) == []


def test_commits_on_an_autocommit_connection(tmp_path):
    conn = sqlite3.connect(tmp_path / "v.db", isolation_level=None)  # as archive.store.connect
    assert versions.record_version(conn, 7, "2024-09-10T09:00:00+00:00", FIRST, sha(FIRST)) == 1
    assert not conn.in_transaction
    assert rows(sqlite3.connect(tmp_path / "v.db")) == [(1, "2024-09-10T09:00:00+00:00", sha(FIRST), FIRST, None)]


def test_backfill_gives_existing_articles_a_first_version_to_diff_against(db):
    db.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, body TEXT, content_hash TEXT,"
               " first_seen_at TEXT, last_seen_at TEXT)")
    db.execute("INSERT INTO articles VALUES (7, ?, ?, '2024-09-01T00:00:00+00:00', '2024-09-09T00:00:00+00:00')",
               (FIRST, sha(FIRST)))
    db.execute("INSERT INTO articles VALUES (8, '', NULL, NULL, NULL)")  # nothing to keep
    db.commit()
    assert versions.backfill(db) == 1 and versions.backfill(db) == 0
    assert rows(db) == [(1, "2024-09-09T00:00:00+00:00", sha(FIRST), FIRST, None)]
    assert versions.record_version(db, 7, "2024-09-12T09:00:00+00:00", EDITED, sha(EDITED)) == 2
    assert "+合格33批次，不合格3批次。" in rows(db)[1][4].splitlines()
