"""Runs that never finished: a killed or crashed crawl leaves its ``crawl_runs`` row 'running'.

An incremental crawl stops paging at the first list page whose articles are
all known.  After a crawl is killed part way, the newest articles (the first
list pages) are archived but older ones further down are not, so the next
incremental run would stop on page one and never fetch them.  The crawl
therefore asks here first: a source whose last run was interrupted is
crawled in full (every list page; known articles are still not fetched
again), and the dead runs are marked 'interrupted' so reports stop calling
them running.
"""
from __future__ import annotations

import sqlite3

from archive import schema


def take_interrupted(conn: sqlite3.Connection, source_name: str) -> bool:
    """Mark the source's unfinished runs 'interrupted'; True when there were any.

    Call only while holding the crawl lock (crawler.runlock): then no run of
    this archive is really in progress.
    """
    with schema.transaction(conn):
        cur = conn.execute(
            "update crawl_runs set status = 'interrupted' where finished_at is null and status = 'running' "
            "and source_id in (select id from sources where name = ?)", (source_name,))
    return cur.rowcount > 0
