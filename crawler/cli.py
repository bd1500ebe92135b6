"""`qsnews`: a thin command line over the crawl, cleaning, archive and site APIs."""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sqlite3
import sys
from pathlib import Path

DEFAULT_DB = os.environ.get("QSNEWS_DB", "data/qsnews.db")


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, help=f"archive database (default: $QSNEWS_DB or {DEFAULT_DB})")


def cmd_extract(args) -> int:
    from crawler.extract import extract_inputs

    failed = 0
    for result in extract_inputs(args.inputs, url=args.url):
        failed += "error" in result
        print(json.dumps(result, ensure_ascii=False) if args.json else _render(result), flush=True)
    return 1 if failed and failed == len(args.inputs) else 0


def _render(result: dict) -> str:
    """A person's view of one extraction: fields first, then every paragraph with its kind."""
    if "error" in result:
        return f"== {result['input']}\nerror: {result['error']}\n"
    lines = [f"== {result['input']}"]
    for name in ("title", "subtitle", "published_at", "source_name", "author", "editor", "section",
                 "province", "prefecture", "county", "region_code", "flags"):
        if result.get(name):
            lines.append(f"{name}: {result[name]}")
    for p in result["paragraphs"]:
        why = f"  ({p['reason']})" if p["reason"] else ""
        lines.append(f"[{p['position']:>3} {p['kind']:<11}] {p['text']}{why}")
    return "\n".join(lines) + "\n"


def cmd_crawl(args) -> int:
    from crawler import registry
    from crawler.crawl import crawl
    from crawler.report import EXIT_LOCKED, EXIT_STORAGE, exit_code, print_runs
    from crawler.runlock import AlreadyRunning, exclusive
    from crawler.storage import ArchiveUnwritable, describe

    if not args.sources and not args.url and not args.all:
        print("qsnews crawl: name sources, or --all, or --url LIST_PAGE", file=sys.stderr)
        return 2
    try:
        sources = registry.find(args.sources, args.registry) if (args.sources or args.all) else []
    except registry.RegistryError as exc:
        print(f"qsnews crawl: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("QSNEWS_REDIS_URL"):
        return cmd_worker(args, sources)
    logging.raiseExceptions = False  # the log beside a full archive must not print a traceback per line
    try:
        with exclusive(args.db):
            first_run = crawl(args.db, sources, url=args.url, registry_path=args.registry, refresh=args.refresh,
                              full=args.full, since=args.since, force=args.force,
                              settings={**_log_settings(args.db), **dict(args.set)})
    except AlreadyRunning as exc:
        print(f"qsnews crawl: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except (ArchiveUnwritable, OSError, sqlite3.Error) as exc:
        message = str(exc) if isinstance(exc, ArchiveUnwritable) else describe(exc, args.db)
        if message is None:
            raise
        print(f"qsnews crawl: {message}", file=sys.stderr)
        return EXIT_STORAGE
    runs = print_runs(args.db, first_run)
    return exit_code(runs)


def cmd_worker(args, sources) -> int:
    """`qsnews crawl` as a scale-out worker: no archive, no lock; `qsnews ingest` writes what it finds."""
    from crawler.worker import work

    return work(args.db, os.environ["QSNEWS_REDIS_URL"], sources, url=args.url, registry_path=args.registry,
                refresh=args.refresh, full=args.full, settings={**_log_settings(args.db), **dict(args.set)})


def cmd_ingest(args) -> int:
    from crawler.ingest import ingest
    from crawler.report import EXIT_LOCKED
    from crawler.runlock import AlreadyRunning, exclusive

    if not args.redis:
        print("qsnews ingest: give --redis URL or set QSNEWS_REDIS_URL", file=sys.stderr)
        return 2
    try:
        with exclusive(args.db):
            counts = ingest(args.db, args.redis, until_empty=args.until_empty, idle_timeout=args.idle_timeout)
    except AlreadyRunning as exc:
        print(f"qsnews ingest: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        return 130
    print(" ".join(f"{name}={value}" for name, value in counts.items()))
    return 0


def _iso_date(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _setting(value: str) -> tuple[str, str]:
    name, sep, setting = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return name, setting


def _log_settings(db_path) -> dict:
    """One log file per run, beside the archive, named by its start time."""
    from datetime import datetime

    logs = Path(db_path).parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return {"LOG_FILE": str(logs / f"crawl-{datetime.now():%Y%m%dT%H%M%S}.log"), "LOG_LEVEL": "INFO"}


def cmd_demo(args) -> int:
    from crawler.demo import build_demo_archive
    from crawler.report import print_runs

    print_runs(args.db, build_demo_archive(args.db, settings=_log_settings(args.db)))
    print(f"archive: {args.db}")
    if args.no_serve:
        return 0
    return cmd_serve(args)


def cmd_serve(args) -> int:
    from archive.serve import serve

    if not Path(args.db).exists():
        print(f"qsnews serve: no archive at {args.db} (run `qsnews demo` or `qsnews crawl` first)", file=sys.stderr)
        return 2
    serve(args.db, host=args.host, port=args.port)
    return 0


def cmd_reprocess(args) -> int:
    from crawler.reprocess import reprocess

    if not Path(args.db).exists():
        print(f"qsnews reprocess: no archive at {args.db}", file=sys.stderr)
        return 2
    counts = reprocess(args.db)
    print(" ".join(f"{name}={value}" for name, value in counts.items()))
    return 3 if counts["errors"] else 0


def cmd_status(args) -> int:
    from crawler import alerts
    from crawler.report import check_status, print_status

    if not Path(args.db).exists():
        print(f"qsnews status: no archive at {args.db}", file=sys.stderr)
        return 2
    thresholds = {name: getattr(args, name) for name in ("max_silent_days", "min_coverage", "max_error_rate",
                                                          "error_runs")}
    if not args.check:
        if args.webhook or args.rules or any(v is not None for v in thresholds.values()):
            print("qsnews status: --rules, --webhook and thresholds go with --check", file=sys.stderr)
            return 2
        print_status(args.db, as_json=args.json)
        return 0
    try:
        config = alerts.load_config(args.rules, **thresholds)
    except alerts.ConfigError as exc:
        print(f"qsnews status: {exc}", file=sys.stderr)
        return 2
    webhook = args.webhook or os.environ.get("QSNEWS_ALERT_WEBHOOK")
    return check_status(args.db, config, webhook=webhook, as_json=args.json)


def cmd_sources(args) -> int:
    from crawler import registry

    try:
        sources = registry.load(args.registry)
    except registry.RegistryError as exc:
        print(f"qsnews sources: {exc}", file=sys.stderr)
        return 2
    if args.check:
        found = registry.problems(sources)
        for problem in found:
            print(problem)
        print(f"{len(sources)} sources, {len(found)} problems")
        return 1 if found else 0
    for s in sources:
        print(f"{s.name}\t{s.kind}\t{s.level}\t{s.region_code}\t{s.cms}\t{s.layout}\t{s.start_urls[0]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from crawler import registry
    from crawler.alerts import Thresholds

    parser = argparse.ArgumentParser(prog="qsnews", description="Archive of Chinese quality-supervision news.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="serve the bundled sample sites, crawl them, archive, then serve Datasette")
    _db_option(p)
    p.add_argument("--no-serve", action="store_true", help="stop once the archive is built")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("crawl", help="crawl registered sources, or one unregistered list page")
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="registry names")
    p.add_argument("--all", action="store_true", help="every source in the registry")
    p.add_argument("--url", help="an unregistered site's list page; the CMS family is detected")
    p.add_argument("--registry", default=str(registry.REGISTRY), help="registry TOML file")
    p.add_argument("--refresh", action="store_true", help="fetch known articles again")
    p.add_argument("--full", action="store_true", help="page through every list page, not just the new ones")
    p.add_argument("--since", type=_iso_date, metavar="YYYY-MM-DD",
                   help="skip articles listed as older; paging stops at a list page older throughout")
    p.add_argument("--force", action="store_true", help="crawl sources still cooling down after being blocked")
    p.add_argument("-s", "--set", action="append", type=_setting, default=[], metavar="NAME=VALUE",
                   help="override a Scrapy/qsnews setting (e.g. DOWNLOAD_DELAY=0); repeatable")
    _db_option(p)
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("ingest", help="scale-out: write what crawl workers pushed to Redis into the archive")
    _db_option(p)
    p.add_argument("--redis", default=os.environ.get("QSNEWS_REDIS_URL"), metavar="URL",
                   help="the workers' Redis (default: $QSNEWS_REDIS_URL)")
    until = p.add_mutually_exclusive_group()
    until.add_argument("--until-empty", action="store_true", help="stop once the item queue is empty")
    until.add_argument("--idle-timeout", type=float, metavar="S", help="stop after S seconds with nothing to ingest")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("serve", help="serve the archive with Datasette")
    _db_option(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("extract", help="run the cleaning chain on saved pages and print the records")
    p.add_argument("inputs", nargs="+", metavar="PATH_OR_URL", help="HTML, .html.gz or .txt files, or http(s) URLs")
    p.add_argument("--url", help="the page's original URL (dates and links are read from it)")
    p.add_argument("--json", action="store_true", help="one JSON object per input and line")
    p.set_defaults(func=cmd_extract)

    defaults = Thresholds()
    p = sub.add_parser("reprocess", help="rebuild every article from the archived raw pages (WARC), offline")
    _db_option(p)
    p.set_defaults(func=cmd_reprocess)

    p = sub.add_parser("status", help="per-source health of the archive; --check applies the alert rules",
                       description="Exit codes with --check: 0 healthy, 1 alerts raised, 6 webhook failed.")
    _db_option(p)
    p.add_argument("--check", action="store_true", help="apply the alert rules; exit 1 when any alert is raised")
    p.add_argument("--json", action="store_true", help="print the health rows (or the --check report) as JSON")
    p.add_argument("--rules", help="TOML file with an [alerts] table (thresholds, per-source overrides)")
    p.add_argument("--max-silent-days", type=float,
                   help=f"alert when no new article for this many days (default {defaults.max_silent_days:g})")
    p.add_argument("--min-coverage", type=float,
                   help=f"alert when title/date/body/region share is below (default {defaults.min_coverage:g})")
    p.add_argument("--max-error-rate", type=float,
                   help=f"alert when errors/requests is above (default {defaults.max_error_rate:g})")
    p.add_argument("--error-runs", type=int,
                   help=f"how many recent runs the error rate covers (default {defaults.error_runs})")
    p.add_argument("--webhook", metavar="URL",
                   help="POST the --check report as JSON here when alerts fire (default: $QSNEWS_ALERT_WEBHOOK)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("sources", help="list the source registry; --check validates it offline")
    p.add_argument("--registry", default=str(registry.REGISTRY))
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_sources)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def run() -> None:
    """The ``qsnews`` program: ``main``, then an exit that skips the interpreter's last garbage collections.

    Those walk every object Scrapy, Twisted and lxml made, 0.2–0.5 s at the end of every crawl, for memory
    the exit frees anyway.  Frozen objects are skipped; files and the archive are closed by then, and the
    atexit handlers (logging's flush among them) still run.  Not in ``main``: a caller that goes on living
    keeps its collector.
    """
    try:
        code = main()
    finally:
        gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
