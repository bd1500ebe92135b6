"""Read-only reports over crawl runs and sources: what `qsnews crawl` and `qsnews status` print."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone


def _connect(db_path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def last_run_id(db_path) -> int:
    with _connect(db_path) as conn:
        return conn.execute("select coalesce(max(id), 0) from crawl_runs").fetchone()[0]


def runs_after(db_path, run_id: int) -> list[dict]:
    """The crawl_runs rows written after ``run_id``, with their source names."""
    sql = """
        select r.*, s.name as source_name from crawl_runs r
        left join sources s on s.id = r.source_id
        where r.id > ? order by r.id
    """
    with _connect(db_path) as conn:
        return [dict(row) for row in conn.execute(sql, (run_id,))]


def source_health(db_path, now: datetime | None = None) -> list[dict]:
    """Per source: status, last success, articles (all / last 7 and 30 days) and field coverage."""
    now = now or datetime.now(timezone.utc)
    since_7 = (now - timedelta(days=7)).isoformat()
    since_30 = (now - timedelta(days=30)).isoformat()
    sql = """
        select s.name, s.status,
          (select max(finished_at) from crawl_runs r where r.source_id = s.id and r.status = 'ok') as last_success,
          (select errors from crawl_runs r where r.source_id = s.id order by r.id desc limit 1) as last_errors,
          count(a.id) as articles,
          sum(a.first_seen_at >= :since_7) as new_7d,
          sum(a.first_seen_at >= :since_30) as new_30d,
          avg(coalesce(a.title, '') != '') as with_title,
          avg(a.published_at is not null) as with_date,
          avg(coalesce(a.body, '') != '') as with_body,
          avg(coalesce(a.region_code, '') != '') as with_region
        from sources s left join articles a on a.source_id = s.id
        group by s.id order by s.name
    """
    with _connect(db_path) as conn:
        return [dict(row) for row in conn.execute(sql, {"since_7": since_7, "since_30": since_30})]
