"""Read-only reports over crawl runs and sources: what `qsnews crawl` and `qsnews status` print.

Timestamps in the archive carry their own UTC offsets (runs are written in
UTC, articles' ``first_seen_at`` in the crawler's local time), so every time
comparison and "latest" here goes through ``julianday()``, which honours the
offset; comparing the ISO strings directly would be off by up to a day.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

DEFAULT_LAST_RUNS = 5


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


_SOURCES_SQL = """
    select s.id, s.name, s.status,
      (select max(finished_at) from crawl_runs r where r.source_id = s.id and r.status = 'ok') as last_success,
      (select started_at from crawl_runs r where r.source_id = s.id order by r.id desc limit 1) as last_run,
      (select errors from crawl_runs r where r.source_id = s.id order by r.id desc limit 1) as last_errors,
      (select first_seen_at from articles l where l.source_id = s.id
        order by julianday(l.first_seen_at) desc limit 1) as last_new_at,
      count(a.id) as articles,
      sum(julianday(a.first_seen_at) >= julianday(:since_7)) as new_7d,
      sum(julianday(a.first_seen_at) >= julianday(:since_30)) as new_30d,
      avg(coalesce(a.title, '') != '') as with_title,
      avg(a.published_at is not null) as with_date,
      avg(coalesce(a.body, '') != '') as with_body,
      avg(coalesce(a.region_code, '') != '') as with_region,
      avg(case when julianday(a.first_seen_at) >= julianday(:since_30)
          then coalesce(a.title, '') != '' end) as recent_with_title,
      avg(case when julianday(a.first_seen_at) >= julianday(:since_30)
          then a.published_at is not null end) as recent_with_date,
      avg(case when julianday(a.first_seen_at) >= julianday(:since_30)
          then coalesce(a.body, '') != '' end) as recent_with_body,
      avg(case when julianday(a.first_seen_at) >= julianday(:since_30)
          then coalesce(a.region_code, '') != '' end) as recent_with_region
    from sources s left join articles a on a.source_id = s.id
    group by s.id order by s.name
"""

# Error counts of each source's last K finished runs: one bad night should not
# page anyone, a source failing run after run should.
_RECENT_RUNS_SQL = """
    select source_id, count(*) as recent_runs, sum(coalesce(requests, 0)) as recent_requests,
           sum(coalesce(errors, 0)) as recent_errors
    from (select r.*, row_number() over (partition by source_id order by id desc) as n
          from crawl_runs r where finished_at is not null)
    where n <= :last_runs group by source_id
"""

# A source is blocked from its first blocked run after its last clean one
# (the crawl pipeline sets sources.status to 'blocked' / back to 'ok' the same way).
_BLOCKED_SINCE_SQL = """
    select source_id, min(started_at) as blocked_since from crawl_runs r
    where status = 'blocked'
      and id > coalesce((select max(id) from crawl_runs o where o.source_id = r.source_id and o.status = 'ok'), 0)
    group by source_id
"""

# Why the latest blocked page was judged blocked (e.g. "HTTP 403", "captcha page").
_BLOCKED_REASON_SQL = """
    select source_id, reason as blocked_reason from
      (select source_id, reason,
              row_number() over (partition by source_id order by julianday(fetched_at) desc) as n
       from pages where outcome = 'blocked')
    where n = 1
"""


def source_health(db_path, now: datetime | None = None, last_runs: int = DEFAULT_LAST_RUNS) -> list[dict]:
    """Per source: status, last success, articles (all / last 7 and 30 days) and field coverage.

    Coverage (``with_*``) is over all of a source's articles; ``recent_with_*``
    over those first seen in the last 30 days (None when there are none), since
    an extractor broken by a site redesign hides behind years of good history.
    Run health: ``recent_runs``/``recent_requests``/``recent_errors`` sum the
    last ``last_runs`` finished runs; ``blocked_since`` and ``blocked_reason``
    are set while the source is blocked.
    """
    now = now or datetime.now(timezone.utc)
    params = {"since_7": (now - timedelta(days=7)).isoformat(), "since_30": (now - timedelta(days=30)).isoformat(),
              "last_runs": last_runs}
    with _connect(db_path) as conn:
        rows = [dict(row) for row in conn.execute(_SOURCES_SQL, params)]
        extra: dict[int, dict] = {}
        for sql in (_RECENT_RUNS_SQL, _BLOCKED_SINCE_SQL, _BLOCKED_REASON_SQL):
            for found in conn.execute(sql, params):
                extra.setdefault(found["source_id"], {}).update(
                    {k: found[k] for k in found.keys() if k != "source_id"})
    for row in rows:
        row.update({"recent_runs": 0, "recent_requests": 0, "recent_errors": 0,
                    "blocked_since": None, "blocked_reason": None})
        row.update(extra.get(row["id"], {}))
        if row["status"] != "blocked":
            row["blocked_since"] = row["blocked_reason"] = None
    return rows
