"""What crawl and status print, and the exit codes cron can act on."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from archive import health
from crawler import alerts

EXIT_OK, EXIT_PARTIAL, EXIT_NOTHING, EXIT_LOCKED = 0, 3, 4, 5
EXIT_ALERTS, EXIT_WEBHOOK_FAILED = 1, 6  # `status --check`, see crawler.alerts
EXIT_STORAGE = 7  # the archive cannot be written (read-only or full disk), see crawler.storage


def print_runs(db_path, first_run_id: int) -> list[dict]:
    runs = health.runs_after(db_path, first_run_id)
    print(f"{'source':<28} {'status':<15} {'requests':>8} {'new':>5} {'updated':>7} {'errors':>6} {'blocked':>7}")
    for r in runs:
        print(f"{alerts.pad(r['source_name'] or '?', 28)} {r['status'] or '':<15} {r['requests'] or 0:>8} {r['new_articles'] or 0:>5}"
              f" {r['updated_articles'] or 0:>7} {r['errors'] or 0:>6} {r['blocked'] or 0:>7}")
    return runs


def exit_code(runs: list[dict]) -> int:
    """0 every source ok; 3 some source failed, erred or was blocked; 4 no source ran."""
    if not runs:
        return EXIT_NOTHING
    return EXIT_OK if all(r["status"] == "ok" for r in runs) else EXIT_PARTIAL


def _share(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def _error_rate(row: dict) -> float | None:
    return row["recent_errors"] / row["recent_requests"] if row["recent_requests"] else None


def _print_table(rows: list[dict]) -> None:
    print(f"{'source':<28} {'status':<15} {'last success':<25} {'articles':>8} {'7d':>4} {'30d':>4}"
          f" {'title':>6} {'date':>6} {'body':>6} {'region':>6} {'errors':>6}")
    for r in rows:
        print(f"{alerts.pad(r['name'], 28)} {r['status'] or '-':<15} {r['last_success'] or '-':<25} {r['articles']:>8}"
              f" {r['new_7d'] or 0:>4} {r['new_30d'] or 0:>4} {_share(r['with_title']):>6} {_share(r['with_date']):>6}"
              f" {_share(r['with_body']):>6} {_share(r['with_region']):>6} {_share(_error_rate(r)):>6}")


def print_status(db_path, as_json: bool = False) -> None:
    """The per-source table; ``errors`` is errors / requests over the last few runs."""
    rows = health.source_health(db_path)
    if as_json:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        print(json.dumps({"generated_at": now, "sources": rows}, ensure_ascii=False, indent=2))
    else:
        _print_table(rows)


def check_status(db_path, config: alerts.Config, webhook: str | None = None, as_json: bool = False) -> int:
    """Apply the alert rules, print the report, POST it to ``webhook`` when alerts fire; returns the exit code."""
    now = datetime.now(timezone.utc)
    rows = health.source_health(db_path, now=now, last_runs=config.thresholds.error_runs)
    found = alerts.evaluate(rows, config, now)
    report = alerts.to_json(found, rows, config, now)
    delivered, delivery = True, None
    if webhook and found:
        delivered, delivery = alerts.post_webhook(webhook, report)
    if as_json:
        if delivery:
            report = {**report, "webhook": {"delivered": delivered, "message": delivery}}
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_table(rows)
        print()
        print(report["text"])
        if delivery:
            print(delivery)
    if not delivered:
        return EXIT_WEBHOOK_FAILED
    return EXIT_ALERTS if found else EXIT_OK
