"""Source health alerts: each rule fires when it should and stays quiet when it should not,
the webhook receives the report, and `qsnews status --check` exits by the documented codes."""
import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from archive import health
from archive.store import Archive
from crawler import alerts

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
FULL = {"title": "某市开展校服质量抽查", "published_at": "2026-05-01T08:00:00+08:00",
        "body": "近日，某市市场监督管理局对全市中小学校服开展专项抽查。", "region_code": "110101"}


def ago(days: float, now: datetime = NOW, tz=timezone.utc) -> str:
    return (now - timedelta(days=days)).astimezone(tz).isoformat(timespec="seconds")


class Builder:
    """A small archive in tmp_path, with articles first seen at chosen times."""

    def __init__(self, path):
        self.path = path
        self.archive = Archive(path)
        self.count = 0

    def source(self, name: str) -> int:
        return self.archive.upsert_source({"name": name, "kind": "bureau", "level": "county"})

    def articles(self, source_id: int, n: int, seen_at: str, **fields) -> None:
        for _ in range(n):
            self.count += 1
            record = {**FULL, "url": f"http://example.gov.cn/art/{self.count}.html", **fields}
            self.archive.upsert_article(record, source_id, seen_at)

    def run(self, source_id: int, status: str = "ok", requests: int = 10, errors: int = 0, blocked: int = 0) -> int:
        run_id = self.archive.start_run(source_id)
        self.archive.finish_run(run_id, requests=requests, errors=errors, blocked=blocked, status=status)
        return run_id

    def check(self, config: alerts.Config = alerts.Config(), now: datetime = NOW) -> list[alerts.Alert]:
        rows = health.source_health(self.path, now=now, last_runs=config.thresholds.error_runs)
        return alerts.evaluate(rows, config, now)

    def close(self) -> str:
        self.archive.close()
        return str(self.path)


@pytest.fixture
def db(tmp_path):
    builder = Builder(tmp_path / "qsnews.db")
    yield builder
    builder.archive.close()


def rules(found, source=None):
    return {a.rule for a in found if source is None or a.source == source}


def config(**thresholds) -> alerts.Config:
    return alerts.Config(alerts.Thresholds(**thresholds))


def test_a_fresh_complete_source_raises_nothing(db):
    sid = db.source("甲县市场监督管理局")
    db.articles(sid, 5, ago(1))
    db.run(sid)
    assert db.check() == []


def test_silent_fires_after_the_limit_and_not_before(db):
    quiet, fresh, empty = db.source("quiet"), db.source("fresh"), db.source("empty")
    db.articles(quiet, 3, ago(20))
    db.articles(fresh, 3, ago(10))
    found = db.check()
    assert rules(found, "quiet") == {"silent"} and rules(found, "fresh") == set()
    assert "20 days" in next(a.message for a in found if a.source == "quiet")
    assert next(a.message for a in found if a.source == "empty") == "no article archived yet"
    assert rules(db.check(config(max_silent_days=30)), "quiet") == set()
    assert rules(db.check(config(max_silent_days=5)), "fresh") == {"silent"}


def test_latest_article_is_found_by_real_time_not_by_string_order(db):
    sid = db.source("mixed offsets")
    # 07:00+08:00 sorts after 01:00+00:00 as text but is two hours earlier.
    db.articles(sid, 1, "2026-05-20T07:00:00+08:00")
    db.articles(sid, 1, "2026-05-20T01:00:00+00:00")
    row = health.source_health(db.path, now=NOW)[0]
    assert row["last_new_at"] == "2026-05-20T01:00:00+00:00"
    # Both sides of the 7-day edge written with offsets that put the text on the other side.
    inside, outside = db.source("inside"), db.source("outside")
    db.articles(inside, 1, ago(6.9, tz=timezone(timedelta(hours=-8))))   # sorts before the cut
    db.articles(outside, 1, ago(7.2, tz=timezone(timedelta(hours=8))))   # sorts after the cut
    new_7d = {r["name"]: r["new_7d"] for r in health.source_health(db.path, now=NOW)}
    assert (new_7d["inside"], new_7d["outside"]) == (1, 0)


def test_coverage_fires_on_the_missing_fields_only(db):
    sid = db.source("no dates")
    db.articles(sid, 5, ago(1))
    db.articles(sid, 5, ago(1), published_at=None, region_code="")
    found = db.check()
    assert rules(found) == {"coverage"}
    message = found[0].message
    assert "date 50%" in message and "region 50%" in message and "title" not in message
    assert db.check(config(min_coverage=0.5)) == []


def test_coverage_looks_at_recent_articles_when_there_are_some(db):
    sid = db.source("redesigned")
    db.articles(sid, 20, ago(60))
    db.articles(sid, 5, ago(2), title=None)   # all-time title share 80%, recent 0%
    found = db.check(config(max_silent_days=90))
    assert rules(found) == {"coverage"} and "title 0%" in found[0].message
    assert "last 30 days" in found[0].message
    old = db.source("old only")
    db.articles(old, 4, ago(60))
    db.articles(old, 1, ago(60), body="")
    found = db.check(config(max_silent_days=90, min_coverage=0.9))
    assert any(a.source == "old only" and "body 80%" in a.message and "all 5 articles" in a.message for a in found)


def test_blocked_fires_with_since_when_and_why_and_clears_after_a_clean_run(db):
    sid = db.source("blocked bureau")
    db.articles(sid, 3, ago(1))
    db.run(sid)
    first_blocked = db.run(sid, status="blocked", blocked=3)
    db.run(sid, status="blocked", blocked=2)
    db.archive.record_page({"url": "http://example.gov.cn/list.html", "source_id": sid,
                            "fetched_at": ago(0.5), "outcome": "blocked", "reason": "HTTP 403"})
    db.archive.set_source_status(sid, "blocked")
    started = {r["id"]: r["started_at"] for r in health.runs_after(db.path, 0)}
    found = db.check()
    assert [(a.rule, a.severity) for a in found] == [("blocked", "error")]
    assert f"since {started[first_blocked]}" in found[0].message and "HTTP 403" in found[0].message
    db.run(sid)
    db.archive.set_source_status(sid, "ok")
    assert db.check() == []


def test_error_rate_fires_over_the_last_k_runs_only(db):
    sid = db.source("flaky")
    db.articles(sid, 3, ago(1))
    for _ in range(5):
        db.run(sid, status="partial", requests=10, errors=8)
    found = db.check()
    assert [(a.rule, a.severity) for a in found] == [("error_rate", "error")]
    assert "80%" in found[0].message and "40 errors in 50 requests" in found[0].message
    for _ in range(5):
        db.run(sid)
    assert db.check(config(max_error_rate=0.3)) == []                                   # last 5 runs are clean
    assert rules(db.check(config(error_runs=10, max_error_rate=0.3))) == {"error_rate"}  # 40/100


def test_unfinished_runs_do_not_count_towards_the_error_rate(db):
    sid = db.source("running")
    db.articles(sid, 3, ago(1))
    db.run(sid, requests=10, errors=1)
    db.archive.start_run(sid)
    row = health.source_health(db.path, now=NOW)[0]
    assert (row["recent_runs"], row["recent_requests"], row["recent_errors"]) == (1, 10, 1)


def test_rules_file_overrides_and_mutes_per_source(db, tmp_path):
    quiet, other = db.source("某县局"), db.source("other")
    db.articles(quiet, 2, ago(40), published_at=None)
    db.articles(other, 2, ago(40))
    path = tmp_path / "alerts.toml"
    path.write_text('[alerts]\nmax_silent_days = 30\nerror_runs = 3\n\n'
                    '[alerts.source."某县局"]\nmax_silent_days = 90\nmute = ["coverage"]\n', encoding="utf-8")
    cfg = alerts.load_config(path)
    assert cfg.thresholds == alerts.Thresholds(max_silent_days=30, error_runs=3)
    found = db.check(cfg)
    assert rules(found, "某县局") == set() and rules(found, "other") == {"silent"}
    assert alerts.load_config(path, max_silent_days=3, min_coverage=None).thresholds.max_silent_days == 3


@pytest.mark.parametrize("text", [
    "[alerts]\nmax_silent_dayz = 3\n",
    "[alerts]\nmin_coverage = 1.5\n",
    "[alerts]\nerror_runs = 0\n",
    '[alerts.source."x"]\nmute = ["nosuchrule"]\n',
    '[alerts.source."x"]\nerror_runs = 3\n',
    "[alerts]\nsource = 3\n",
    "[alerts\n",
])
def test_bad_rules_files_are_rejected(tmp_path, text):
    path = tmp_path / "alerts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(alerts.ConfigError):
        alerts.load_config(path)


def test_report_text_and_json_carry_the_same_alerts():
    found = [alerts.Alert("甲", "blocked", "blocked since x", "error"),
             alerts.Alert("乙", "silent", "no new article for 20 days", "warning")]
    rows = [{"name": "甲"}, {"name": "乙"}, {"name": "丙"}]
    text = alerts.render_text(found, rows)
    assert text.splitlines()[0].endswith("2 alerts on 2 of 3 sources")
    assert text.splitlines()[1].startswith("ERROR") and "甲" in text.splitlines()[1]
    report = alerts.to_json(found, rows, alerts.Config(), NOW)
    assert report["ok"] is False and report["text"] == text
    assert [a["rule"] for a in report["alerts"]] == ["blocked", "silent"]
    assert json.loads(json.dumps(report, ensure_ascii=False)) == report
    assert alerts.render_text([], rows).endswith("all 3 sources healthy")
    assert alerts.pad("甲乙", 6) == "甲乙  " and alerts.pad("ab", 6) == "ab    "


# -- webhook -----------------------------------------------------------------


class Hook:
    """A loopback HTTP server that records JSON POSTs; answers with ``statuses`` in turn, then 200."""

    def __init__(self, statuses=()):
        self.received, self.statuses = [], list(statuses)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((self.headers["Content-Type"], json.loads(body)))
                self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"


def test_webhook_receives_the_report_as_json(hook):
    payload = {"ok": False, "alerts": [{"source": "甲", "rule": "blocked"}]}
    delivered, message = alerts.post_webhook(hook.url, payload, retry_delay=0)
    assert delivered and "HTTP 200" in message
    assert hook.received == [("application/json; charset=utf-8", payload)]


def test_webhook_retries_once_then_gives_up_without_raising():
    flaky = Hook(statuses=[500])
    try:
        assert alerts.post_webhook(flaky.url, {"ok": False}, retry_delay=0)[0]
        assert len(flaky.received) == 2
    finally:
        flaky.close()
    down = Hook(statuses=[503, 503])
    try:
        delivered, message = alerts.post_webhook(down.url, {"ok": False}, retry_delay=0)
        assert not delivered and "2 attempts" in message and "503" in message
    finally:
        down.close()
    delivered, message = alerts.post_webhook(closed_port_url(), {"ok": False}, timeout=2, retry_delay=0)
    assert not delivered and "failed after 2 attempts" in message
    assert alerts.post_webhook("file:///etc/passwd", {})[0] is False


# -- command line -------------------------------------------------------------


def live_archive(tmp_path, blocked: bool) -> str:
    """An archive dated against the real clock, for the child process."""
    now = datetime.now(timezone.utc)
    db = Builder(tmp_path / "qsnews.db")
    sid = db.source("甲县市场监督管理局")
    db.articles(sid, 3, ago(1, now))
    db.run(sid)
    if blocked:
        bad = db.source("乙市市场监督管理局")
        db.articles(bad, 3, ago(1, now))
        db.run(bad, status="blocked", blocked=4)
        db.archive.set_source_status(bad, "blocked")
    return db.close()


def test_cli_check_exits_0_when_healthy_and_1_with_a_readable_report(qsnews, tmp_path):
    healthy = qsnews("status", "--check", "--db", live_archive(tmp_path / "a", blocked=False))
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "all 1 sources healthy" in healthy.stdout
    sick = qsnews("status", "--check", "--db", live_archive(tmp_path / "b", blocked=True))
    assert sick.returncode == 1, sick.stdout + sick.stderr
    alert_lines = [line for line in sick.stdout.splitlines() if line.startswith("ERROR")]
    assert len(alert_lines) == 1 and "乙市市场监督管理局" in alert_lines[0] and "blocked since" in alert_lines[0]
    plain = qsnews("status", "--db", tmp_path / "b" / "qsnews.db")
    assert plain.returncode == 0 and "乙市市场监督管理局" in plain.stdout and "errors" in plain.stdout


def test_cli_check_json_and_thresholds(qsnews, tmp_path):
    db = live_archive(tmp_path, blocked=True)
    result = qsnews("status", "--check", "--json", "--db", db, "--max-silent-days", "0.5")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert {(a["source"], a["rule"]) for a in report["alerts"]} == {
        ("乙市市场监督管理局", "blocked"), ("乙市市场监督管理局", "silent"), ("甲县市场监督管理局", "silent")}
    assert report["alerts"][0]["rule"] == "blocked"                    # errors before warnings
    assert report["thresholds"]["max_silent_days"] == 0.5 and len(report["sources"]) == 2
    bad = qsnews("status", "--check", "--db", db, "--min-coverage", "2")
    assert bad.returncode == 2 and "min_coverage" in bad.stderr
    assert qsnews("status", "--db", db, "--webhook", "http://127.0.0.1:1/").returncode == 2


def test_cli_webhook_gets_the_report_and_a_dead_webhook_exits_6(qsnews, tmp_path, hook, monkeypatch):
    db = live_archive(tmp_path, blocked=True)
    result = qsnews("status", "--check", "--db", db, "--webhook", hook.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "webhook delivered" in result.stdout
    [(_, payload)] = hook.received
    assert payload["ok"] is False and [a["rule"] for a in payload["alerts"]] == ["blocked"]
    monkeypatch.setenv("QSNEWS_ALERT_WEBHOOK", closed_port_url())
    dead = qsnews("status", "--check", "--db", db)
    assert dead.returncode == 6, dead.stdout + dead.stderr
    assert "webhook to" in dead.stdout and "failed after 2 attempts" in dead.stdout
    assert "乙市市场监督管理局" in dead.stdout          # the alerts are still printed


def test_cli_healthy_check_does_not_post(qsnews, tmp_path, hook):
    result = qsnews("status", "--check", "--db", live_archive(tmp_path, blocked=False), "--webhook", hook.url)
    assert result.returncode == 0 and hook.received == []
