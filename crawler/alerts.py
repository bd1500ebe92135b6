"""Alert rules over source health: what `qsnews status --check` reports and sends to a webhook.

Rules (each one alert per source at most):

- ``silent``     (warning) no new article for more than ``max_silent_days`` days (or none ever);
- ``coverage``   (warning) share of articles with a title / date / body / region below ``min_coverage``,
                 over the articles first seen in the last 30 days (all articles when there are none);
- ``blocked``    (error)   the source is blocked (its last runs hit 403s, captchas...), with since when;
- ``error_rate`` (error)   errors / requests over the last ``error_runs`` finished runs above ``max_error_rate``.

Thresholds come from, most specific first: a per-source table ``[alerts.source."NAME"]`` in the
``--rules`` TOML file (which may also ``mute`` rules for that source), the command-line options,
the file's ``[alerts]`` table, then the defaults in ``Thresholds``.  Example::

    [alerts]
    max_silent_days = 14
    min_coverage = 0.8
    max_error_rate = 0.5
    error_runs = 5

    [alerts.source."某县市场监督管理局"]
    max_silent_days = 90          # posts a few times a year
    mute = ["coverage"]

Exit codes of ``qsnews status --check``: 0 every source healthy; 1 alerts raised (the report says
which); 6 the webhook could not be reached (after one retry; any alerts are still printed).
The webhook gets a POST only when alerts are raised, so an hourly cron does not spam a chat room.

Evaluation is pure (rows in, alerts out) so rules are testable without a database or a clock.
"""
from __future__ import annotations

import http.client
import json
import time
import tomllib
import unicodedata
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

RULES = ("silent", "coverage", "blocked", "error_rate")
SEVERITY = {"silent": "warning", "coverage": "warning", "blocked": "error", "error_rate": "error"}
FIELDS = ("title", "date", "body", "region")


class ConfigError(ValueError):
    """A rules file or option the check cannot use; the CLI prints it and exits 2."""


@dataclass(frozen=True)
class Thresholds:
    max_silent_days: float = 14
    min_coverage: float = 0.8
    max_error_rate: float = 0.5
    error_runs: int = 5          # K: how many of each source's last runs the error rate covers


@dataclass(frozen=True)
class Override:
    """One source's own thresholds (keys left out inherit the global ones) and muted rules."""
    thresholds: dict = field(default_factory=dict)
    mute: frozenset = frozenset()


@dataclass(frozen=True)
class Config:
    thresholds: Thresholds = Thresholds()
    sources: dict = field(default_factory=dict)   # source name -> Override

    def for_source(self, name: str) -> tuple[Thresholds, frozenset]:
        override = self.sources.get(name, Override())
        return replace(self.thresholds, **override.thresholds), override.mute


@dataclass(frozen=True)
class Alert:
    source: str
    rule: str
    message: str
    severity: str


def _checked(values: dict, where: str, allowed: tuple[str, ...]) -> dict:
    """Threshold values with their types and ranges validated, so a typo fails loudly instead of muting a rule."""
    unknown = set(values) - set(allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {', '.join(allowed)})")
    for name, value in values.items():
        if name == "mute":
            if not isinstance(value, list) or not set(value) <= set(RULES):
                raise ConfigError(f"{where}: mute must be a list of rule names from {', '.join(RULES)}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{where}: {name} must be a non-negative number, not {value!r}")
        elif name in ("min_coverage", "max_error_rate") and value > 1:
            raise ConfigError(f"{where}: {name} is a share between 0 and 1, not {value!r}")
        elif name == "error_runs" and (value < 1 or value != int(value)):
            raise ConfigError(f"{where}: error_runs must be a whole number of runs >= 1, not {value!r}")
    return values


def load_config(rules_path=None, **options) -> Config:
    """The check's config from an optional TOML file and command-line ``options`` (None = not given)."""
    table: dict = {}
    if rules_path:
        try:
            table = tomllib.loads(Path(rules_path).read_text(encoding="utf-8")).get("alerts", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{rules_path}: {exc}") from exc
    per_source = table.pop("source", {})
    if not isinstance(per_source, dict) or not all(isinstance(v, dict) for v in per_source.values()):
        raise ConfigError(f'{rules_path}: per-source thresholds go in [alerts.source."NAME"] tables')
    global_names = tuple(f.name for f in fields(Thresholds))
    source_names = ("max_silent_days", "min_coverage", "max_error_rate", "mute")
    values = _checked(table, f"{rules_path} [alerts]", global_names)
    values.update(_checked({k: v for k, v in options.items() if v is not None}, "options", global_names))
    overrides = {}
    for name, raw in per_source.items():
        raw = dict(_checked(raw, f'{rules_path} [alerts.source."{name}"]', source_names))
        overrides[name] = Override(mute=frozenset(raw.pop("mute", ())), thresholds=raw)
    if "error_runs" in values:
        values["error_runs"] = int(values["error_runs"])
    return Config(Thresholds(**values), overrides)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _silent(row: dict, t: Thresholds, now: datetime) -> str | None:
    last = _parse_time(row.get("last_new_at"))
    if last is None:
        return "no article archived yet"
    days = (now - last).total_seconds() / 86400
    if days > t.max_silent_days:
        return (f"no new article for {days:.0f} days "
                f"(newest first seen {row['last_new_at']}; limit {t.max_silent_days:g})")
    return None


def _coverage(row: dict, t: Thresholds) -> str | None:
    if not row.get("articles"):
        return None
    if row.get("new_30d"):
        prefix, scope = "recent_with_", f"the {row['new_30d']} articles first seen in the last 30 days"
    else:
        prefix, scope = "with_", f"all {row['articles']} articles"
    low = [(name, row[prefix + name]) for name in FIELDS
           if row.get(prefix + name) is not None and row[prefix + name] < t.min_coverage]
    if not low:
        return None
    shares = ", ".join(f"{name} {share:.0%}" for name, share in low)
    return f"field coverage below {t.min_coverage:.0%} over {scope}: {shares}"


def _blocked(row: dict) -> str | None:
    if row.get("status") != "blocked":
        return None
    since = f" since {row['blocked_since']}" if row.get("blocked_since") else ""
    why = f" ({row['blocked_reason']})" if row.get("blocked_reason") else ""
    return f"blocked{since}{why}; last success {row.get('last_success') or 'never'}"


def _error_rate(row: dict, t: Thresholds) -> str | None:
    requests, errors = row.get("recent_requests") or 0, row.get("recent_errors") or 0
    if not requests or errors / requests <= t.max_error_rate:
        return None
    runs = "run" if row["recent_runs"] == 1 else f"{row['recent_runs']} runs"
    return (f"error rate {errors / requests:.0%} ({errors} errors in {requests} requests over the last {runs}; "
            f"limit {t.max_error_rate:.0%})")


def evaluate(rows: list[dict], config: Config, now: datetime) -> list[Alert]:
    """Alerts for ``source_health`` rows, errors first, then by source name."""
    alerts = []
    for row in rows:
        t, mute = config.for_source(row["name"])
        found = {"silent": _silent(row, t, now), "coverage": _coverage(row, t),
                 "blocked": _blocked(row), "error_rate": _error_rate(row, t)}
        alerts += [Alert(row["name"], rule, message, SEVERITY[rule])
                   for rule, message in found.items() if message and rule not in mute]
    return sorted(alerts, key=lambda a: (a.severity != "error", a.source, RULES.index(a.rule)))


def summary(alerts: list[Alert], rows: list[dict]) -> str:
    if not alerts:
        return f"all {len(rows)} sources healthy"
    affected = len({a.source for a in alerts})
    return f"{len(alerts)} alerts on {affected} of {len(rows)} sources"


def pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal columns: Chinese characters take two, so str.ljust misaligns."""
    return text + " " * max(0, width - _columns(text))


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def render_text(alerts: list[Alert], rows: list[dict]) -> str:
    """The readable report: one line per alert, severity first, so cron mail is scannable."""
    lines = [f"qsnews status --check: {summary(alerts, rows)}"]
    width = max((_columns(a.source) for a in alerts), default=0)
    lines += [f"{a.severity.upper():<8} {pad(a.source, width)}  {a.rule:<10}  {a.message}" for a in alerts]
    return "\n".join(lines)


def to_json(alerts: list[Alert], rows: list[dict], config: Config, now: datetime) -> dict:
    """The JSON report: what ``--json`` prints and the webhook receives.

    ``text`` is the rendered report, so Slack/Mattermost-style incoming webhooks show it as is.
    """
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "ok": not alerts,
        "summary": summary(alerts, rows),
        "text": render_text(alerts, rows),
        "thresholds": asdict(config.thresholds),
        "alerts": [asdict(a) for a in alerts],
        "sources": rows,
    }


def post_webhook(url: str, payload: dict, timeout: float = 10.0, retry_delay: float = 2.0) -> tuple[bool, str]:
    """POST ``payload`` as JSON; one retry. Never raises: returns (delivered, what happened) for the report."""
    if not url.startswith(("http://", "https://")):
        return False, f"webhook {url!r} is not an http(s) URL"
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    failure = ""
    for attempt in (1, 2):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8",
                                                  "User-Agent": "qsnews-status-check"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return True, f"webhook delivered to {url} (HTTP {response.status})"
        except urllib.error.HTTPError as exc:
            failure = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            failure = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
        if attempt == 1:
            time.sleep(retry_delay)
    return False, f"webhook to {url} failed after 2 attempts: {failure}"
