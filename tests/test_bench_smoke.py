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
    assert "qsnews CPU by process (ms/page): crawl process" in result.stdout
    assert "throughput ratio qsnews / bare" in result.stdout
