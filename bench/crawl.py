"""Crawl cost benchmark: requests per new article on a first crawl, and what a no-change re-crawl costs.

    .venv/bin/python bench/crawl.py [--keep DIR]

Two sets of loopback sites, each crawled twice into a fresh archive by the
real command line, with nothing changed between the runs:

* the demo: ``qsnews demo --no-serve`` (crawler/demo_sites through the host
  map: TRS, portal, generic mirror, a 412-challenge host);
* the test fixture sites (tests/fixtures/sites: TRS, Hanweb with POST paging,
  portal, generic with a calendar trap), one ``qsnews crawl --url`` each,
  served by crawler.demo_server on 127.0.0.1.

Requests are Scrapy's ``downloader/request_count`` as ``crawl_runs.requests``
records it (robots.txt, list, article, continuation, error and challenged
requests all count).  "article pages refetched" counts article pages whose
``pages.fetched_at`` moved in the re-crawl; it should be 0.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.demo_server import DemoServer  # noqa: E402

FIXTURES = {"trs": "/xxgk/gzdt/index.html", "hanweb": "/col/col3021/index.html", "portal": "/zlxw/node_2207.htm",
            "generic": "/news/list.html"}
LOOPBACK = ["-s", "QSNEWS_ALLOW_LOOPBACK=1", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
            "-s", "QSNEWS_RETRY_BACKOFF_BASE=0"]


def qsnews(*args) -> None:
    env = {**os.environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "no_proxy": "127.0.0.1"}
    result = subprocess.run([sys.executable, "-m", "crawler.cli", *map(str, args)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    if result.returncode not in (0, 3):  # 3: some source partial or blocked, which the sites are built to cause
        raise SystemExit(f"qsnews {' '.join(map(str, args))} failed:\n{result.stderr[-2000:]}")


def snapshot(db: Path) -> tuple[dict, dict]:
    """(requests and new articles summed over the runs so far, {article page url: fetched_at})."""
    conn = sqlite3.connect(db)
    try:
        requests, new = conn.execute("select sum(requests), sum(new_articles) from crawl_runs").fetchone()
        pages = dict(conn.execute("select url, fetched_at from pages where outcome = 'article'"))
    finally:
        conn.close()
    return {"requests": requests or 0, "new": new or 0}, pages


def twice(db: Path, run) -> dict:
    run()
    first, pages = snapshot(db)
    run()
    total, after = snapshot(db)
    return {"first_requests": first["requests"], "first_new": first["new"],
            "again_requests": total["requests"] - first["requests"], "again_new": total["new"] - first["new"],
            "refetched": sum(after.get(url) != fetched for url, fetched in pages.items())}


def bench(workdir: Path) -> dict[str, dict]:
    demo = workdir / "demo" / "qsnews.db"
    results = {"demo (4 sample sites)": twice(demo, lambda: qsnews("demo", "--no-serve", "--db", demo))}
    for family, path in FIXTURES.items():
        db = workdir / family / "qsnews.db"
        with DemoServer(root=ROOT / "tests" / "fixtures" / "sites" / family) as port:
            results[f"fixture {family}"] = twice(db, lambda: qsnews("crawl", "--url", f"http://127.0.0.1:{port}{path}",
                                                                    "--db", db, *LOOPBACK))
    return results


def table(results: dict[str, dict]) -> str:
    lines = ["| sites | first crawl: requests / new articles | requests per new article | no-change re-crawl: "
             "requests (vs first) | new | article pages refetched |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        per = r["first_requests"] / r["first_new"] if r["first_new"] else float("nan")
        share = r["again_requests"] / r["first_requests"] if r["first_requests"] else float("nan")
        lines.append(f"| {name} | {r['first_requests']} / {r['first_new']} | {per:.2f} | {r['again_requests']} "
                     f"({share:.0%}) | {r['again_new']} | {r['refetched']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the archives here and keep them (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.keep:
        print(table(bench(args.keep)))
        return
    with tempfile.TemporaryDirectory(prefix="qsnews-bench-crawl-") as tmp:
        print(table(bench(Path(tmp))))


if __name__ == "__main__":
    main()
