"""bench/throughput.py still runs end to end and reports sane figures.

Only that the benchmark works: both crawlers fetch every page of a small
loopback site and qsnews archives each article.  No timing is asserted here;
speed and memory targets live in bench/ (`make bench`), never in tests.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_throughput_benchmark_runs_both_crawlers_over_every_page(tmp_path):
    out = tmp_path / "throughput.json"
    result = subprocess.run([sys.executable, "bench/throughput.py", "--pages", "50", "--json", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    r = json.loads(out.read_text(encoding="utf-8"))
    for crawler in ("qsnews", "bare"):
        assert r[crawler]["exit"] == 0
        assert r[crawler]["served"] == {"articles": 50, "lists": r["list_pages"]}
        assert r[crawler]["pages_per_s"] > 0 and r[crawler]["peak_rss_mb"] > 0
    assert r["bare"]["counted"] == {"articles": 50, "lists": r["list_pages"]}
    assert r["qsnews"]["archived"] == 50
    assert r["ratio"] > 0
    # The crawl's CPU is split by process: its cleaning worker(s) have their own share, the bare spider has none.
    assert r["qsnews"]["descendant_cpu_seconds"] and min(r["qsnews"]["descendant_cpu_seconds"]) > 0
    assert sum(r["qsnews"]["descendant_cpu_seconds"]) < r["qsnews"]["cpu_seconds"]
    assert r["bare"]["descendant_cpu_seconds"] == []
    assert "qsnews CPU by process (ms/page, mean of its runs): crawl process" in result.stdout
    assert "throughput ratio qsnews / bare" in result.stdout


def test_throughput_benchmark_alternates_the_crawlers_and_sets_each_qsnews_run_between_two_bare_ones(tmp_path):
    out = tmp_path / "throughput.json"
    result = subprocess.run([sys.executable, "bench/throughput.py", "--pages", "30", "--rounds", "3", "--json",
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    r = json.loads(out.read_text(encoding="utf-8"))
    bares, crawls = r["bare"]["runs"], r["qsnews"]["runs"]
    assert (len(bares), len(crawls)) == (4, 3)
    assert [x["archived"] for x in crawls] == [30, 30, 30]  # each run into its own, fresh archive
    expected = [q["pages_per_s"] / ((bares[k]["pages_per_s"] + bares[k + 1]["pages_per_s"]) / 2)
                for k, q in enumerate(crawls)]
    assert r["round_ratios"] == expected
    assert r["ratio"] == sum(expected) / 3
    assert r["qsnews"]["peak_rss_mb"] == max(x["peak_rss_mb"] for x in crawls)
    rows = [line.split()[:2] for line in result.stdout.splitlines() if line.startswith(("bare ", "qsnews "))]
    assert [" ".join(row) for row in rows[:7]] == ["bare 1", "qsnews 1", "bare 2", "qsnews 2", "bare 3", "qsnews 3",
                                                   "bare 4"]
