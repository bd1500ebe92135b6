"""Run every benchmark in bench/ and append one dated block of results to BENCHMARKS.md.

    .venv/bin/python bench/run_all.py [--quick] [--skip NAME ...] [--search-articles N] [--crawl-pages N]

What `make bench` runs.  Each benchmark runs alone, one after the other, as its
own process with its own command line (recorded in the block, so any figure
can be reproduced by hand): extraction.py (vs trafilatura and
readability-lxml), crawl.py (first crawl vs no-change re-crawl), reprints.py
(clustering at 100k articles), search.py (at 1M articles: its 16 GB archive
is built once, which takes tens of minutes, then cached in bench/.cache) and
throughput.py (full crawl vs bare Scrapy at 10k pages, with peak RSS).
``--timeout`` bounds each one; one that fails or runs out of time is a FAIL
row and the others still report.

The block holds the date, the machine (cores, RAM, load average at the start
and the end: these machines are shared and noisy, so compare ratios within one
block, not raw figures across blocks), a summary table (metric, qsnews, peer,
ratio or target, pass/fail where the project set a target) and each
benchmark's command with its printed output verbatim.  ``--quick`` is a
CI-sized smoke run of every benchmark that prints the block and appends nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ".venv/bin/python"  # as the block shows commands: from the repo root
NAMES = ("throughput", "chain", "crawl", "extraction", "reprints", "search")  # the longest, least predictable last


def commands(quick: bool, search_articles: int, crawl_pages: int, json_out: Path) -> dict[str, list[str]]:
    """The command line of each benchmark (full run, or the CI-sized one)."""
    return {
        "extraction": ["bench/extraction.py"] + (["--limit", "5"] if quick else ["--repeat", "3"]),
        "chain": ["bench/chain_profile.py"] + (["--pages", "20", "--repeat", "1"] if quick else ["--repeat", "3"]),
        "crawl": ["bench/crawl.py"],
        "reprints": ["bench/reprints.py"] + (["--articles", "2000", "--incremental", "500"] if quick else []),
        "search": ["bench/search.py", "--articles", str(2000 if quick else search_articles)]
                  + (["--repeat", "1"] if quick else []),
        "throughput": ["bench/throughput.py", "--pages", str(100 if quick else crawl_pages), "--json", str(json_out)],
    }


def machine() -> dict:
    mem = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return {"nproc": os.cpu_count(), "ram_gb": int(mem[1]) / 2**20 if mem else float("nan"),
            "cpu": model[1].strip() if model else "unknown", "load": os.getloadavg()}


def run(name: str, argv: list[str], timeout: float | None) -> dict:
    """Run one benchmark; past ``timeout`` its whole process group (servers it started too) is stopped."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate()
        stderr += f"\nstopped after the --timeout of {timeout:.0f} s"
    out = {"command": " ".join([PY, *argv]), "exit": proc.returncode, "stdout": stdout,
           "seconds": time.perf_counter() - started, "load_after": os.getloadavg()[0]}
    if proc.returncode:
        out["stderr"] = stderr[-3000:]
    print(f"{name}: exit {proc.returncode} in {out['seconds']:.0f} s", file=sys.stderr, flush=True)
    return out


# ---------------------------------------------------------------- figures from each benchmark's output
# A row: (metric, qsnews, peer, ratio or target, result); result is "pass", "FAIL" or "—" (no target set).

def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def extraction_rows(stdout: str) -> list[tuple]:
    found = {}
    for line in stdout.splitlines():
        m = re.match(r"(\S+)\s+(qsnews|trafilatura)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            found[m[1], m[2]] = {"f1": float(m[5]), "speed": float(m[6])}
    rows = []
    for set_name in dict.fromkeys(s for s, _ in found):
        q, t = found.get((set_name, "qsnews")), found.get((set_name, "trafilatura"))
        if q and t:
            rows.append((f"extraction pages/s, {set_name} (F1 qsnews / trafilatura)",
                         f"{q['speed']:.1f} (F1 {q['f1']:.3f})", f"{t['speed']:.1f} (F1 {t['f1']:.3f})",
                         f"{q['speed'] / t['speed']:.2f}×", "—"))
    return rows


def chain_rows(stdout: str) -> list[tuple]:
    """Per-page CPU of each group on the throughput bench's pages (the step-by-step table is in the section)."""
    rows = []
    for group, body in re.findall(r"^throughput / (\w+) \(.*?\)\n(.*?)(?=^\S|\Z)", stdout, re.M | re.S):
        total = re.search(r"^\s+total\s+([\d.]+)", body, re.M)
        if total:
            rows.append((f"CPU per article page, {group} (ms, median)", total[1], "—", "—", "—"))
    return rows


def crawl_rows(stdout: str) -> list[tuple]:
    first = again = new = refetched = 0
    for m in re.finditer(r"^\| [^|]+ \| (\d+) / \d+ \| [^|]+ \| (\d+) \([^)]*\) \| (\d+) \| (\d+) \|$", stdout, re.M):
        first, again = first + int(m[1]), again + int(m[2])
        new, refetched = new + int(m[3]), refetched + int(m[4])
    if not first:
        return []
    return [("no-change re-crawl requests vs first crawl (demo + 4 fixture sites)", f"{again} vs {first}", "—",
             f"{again / first:.0%} of first; {refetched} article pages refetched, {new} new (target 0, 0)",
             verdict(refetched == 0 and new == 0))]


def reprints_rows(stdout: str) -> list[tuple]:
    start = stdout.find("\n{")
    if start < 0:
        return []
    results = json.loads(stdout[start:])
    size = max(int(k) for k in results if k.isdigit())
    r = results[str(size)]
    return [(f"clustering rebuild at {size:,} articles (wall / CPU s)", f"{r['rebuild_s']:.1f} / {r['rebuild_cpu_s']:.1f}",
             "—", "≤ 60 s wall", verdict(r["rebuild_s"] <= 60)),
            (f"clustering precision / recall at {size:,}", f"{r['precision']:.4f} / {r['recall']:.4f}", "—",
             "≥ 0.95 each", verdict(min(r["precision"], r["recall"]) >= 0.95))]


def search_rows(stdout: str) -> list[tuple]:
    size = re.search(r"archive: ([\d,]+) articles", stdout)
    rows = []
    for label in ("ranked 2-char search", "table search page", "CSV export"):
        m = re.search(rf"^({re.escape(label)}.*?)\s+([\d.]+)\s+([\d.]+)\s+\d+$", stdout, re.M)
        if m:
            rows.append((f"search at {size[1] if size else '?'} articles: {m[1]} (p50 / p95 ms)",
                         f"{m[2]} / {m[3]}", "—", "—", "—"))
    return rows


def _pages(x: dict) -> int:
    return max(x["served"]["articles"] + x["served"]["lists"], 1)


def _ms(x: dict, seconds: float) -> str:
    return f"{1000 * seconds / _pages(x):.1f}"


def throughput_rows(r: dict) -> list[tuple]:
    q, b = r["qsnews"], r["bare"]
    complete = all(x["served"]["articles"] == r["pages"] for x in (q, b)) and q["archived"] == r["pages"]
    pages = f"{r['pages']:,} loopback pages"
    workers = sum(q["descendant_cpu_seconds"])  # the worker processes' CPU seconds; the crawl process has the rest
    return [(f"crawl throughput, {pages} (pages/s; qsnews vs bare Scrapy)", f"{q['pages_per_s']:.1f}",
             f"{b['pages_per_s']:.1f}",
             f"{r['ratio']:.2f}, mean of {' and '.join(f'{x:.2f}' for x in r['round_ratios'])} "
             f"(target ≥ {r['ratio_target']})",
             verdict(r["ratio"] >= r["ratio_target"] and complete)),
            (f"CPU crawling {pages} (ms/page; qsnews crawl process + worker processes vs bare Scrapy)",
             f"{_ms(q, q['cpu_seconds'] - workers)} + {_ms(q, workers)}", _ms(b, b["cpu_seconds"]),
             f"{q['cpu_seconds'] / _pages(q) / (b['cpu_seconds'] / _pages(b)):.2f}×", "—"),
            (f"peak RSS crawling {pages} (MB)", f"{q['peak_rss_mb']:.0f}", f"{b['peak_rss_mb']:.0f}",
             f"target ≤ {r['rss_target_mb']} MB", verdict(q["peak_rss_mb"] <= r["rss_target_mb"]))]


def block(when: datetime, host: dict, argv: list[str], results: dict, json_out: Path, end_load: float) -> str:
    rows, sections = [], []
    for name, res in results.items():
        if res is None:
            rows.append((name, "skipped (--skip)", "", "", "—"))
            continue
        if res["exit"]:
            rows.append((name, f"failed (exit {res['exit']})", "", "", "FAIL"))
        elif name == "throughput":
            rows += throughput_rows(json.loads(json_out.read_text(encoding="utf-8")))
        else:
            rows += {"extraction": extraction_rows, "chain": chain_rows, "crawl": crawl_rows, "reprints": reprints_rows,
                     "search": search_rows}[name](res["stdout"])
        shown = res["stdout"].split("\n{", 1)[0].rstrip()  # reprints' trailing JSON repeats its own lines
        shown += "\n" + res["stderr"].rstrip() if res["exit"] else ""
        sections.append(f"`{name}` ({res['seconds']:.0f} s, load average {res['load_after']:.1f} after):\n\n"
                        f"    {res['command']}\n\n```\n{shown}\n```")
    load = host["load"]
    lines = [f"## `make bench`, {when:%Y-%m-%d %H:%M} UTC", "",
             f"Machine: {host['nproc']} cores ({host['cpu']}), {host['ram_gb']:.1f} GB RAM; load average "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min) at the start, {end_load:.2f} at the end. "
             "Shared machine: compare ratios, not raw figures across blocks.", "",
             f"Command: `{' '.join([PY, 'bench/run_all.py', *argv])}`" + (" (`make bench`)" if not argv else ""), "",
             "| metric | qsnews | peer | ratio / target | result |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(map(str, row))} |" for row in rows]
    return "\n".join(lines + ["", *("\n\n".join(sections).splitlines()), ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized smoke run: print the block, append nothing")
    parser.add_argument("--skip", action="append", default=[], choices=NAMES, help="leave a benchmark out")
    parser.add_argument("--search-articles", type=int, default=1_000_000)
    parser.add_argument("--crawl-pages", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, help="seconds each benchmark may take (default: no limit)")
    args = parser.parse_args(argv)
    when, host = datetime.now(timezone.utc), machine()
    with tempfile.TemporaryDirectory(prefix="qsnews-bench-all-") as tmp:
        json_out = Path(tmp) / "throughput.json"
        argvs = commands(args.quick, args.search_articles, args.crawl_pages, json_out)
        results = {name: None if name in args.skip else run(name, argvs[name], args.timeout) for name in NAMES}
        text = block(when, host, sys.argv[1:] if argv is None else argv, results, json_out, os.getloadavg()[0])
    print(text)
    if not args.quick:
        with (ROOT / "BENCHMARKS.md").open("a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 1 if any(r and r["exit"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
