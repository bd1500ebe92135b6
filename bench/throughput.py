"""Crawl throughput and memory: the full qsnews crawl against a bare Scrapy spider on one loopback site.

    .venv/bin/python bench/throughput.py [--pages 10000] [--seed 3] [--json OUT] [--keep DIR]

A generated site of ``--pages`` article pages (realistic Chinese government
pages: navigation, breadcrumb, headline, info line, 4-14 paragraphs of real
sentences from tests/fixtures/seeds converted to simplified script, a photo
caption, related links, footer; ~7 KB each) behind a chain of list pages
joined by 下一页 links, served by tests/loopback.py's threaded server on
127.0.0.1.  A list page holds ``ceil(pages / 25)`` links (at least 20), so
the chain stays within the product's DEPTH_LIMIT (30) and no setting of the
product is changed to fit the benchmark.

Both crawlers run in the same invocation, one after the other, each as its
own process with the same pacing settings (the product's concurrency and
robots.txt rules, no download delay, no AutoThrottle — loopback answers at
once).  They alternate, bare first and last: bare, qsnews, bare, qsnews, bare
for ``--rounds 2`` (the default).  Each qsnews run is set against the mean
pages/s of the bare runs just before and after it, and the ratio is the mean
of those: on a shared machine one bare run alone varied from 7 to 38 s for the
same 3,000 pages within minutes, and single 10k-page ratios of the same code
from 0.587 to 0.679 within an hour.  Every run is shown, and its own ratio.

* qsnews: ``qsnews crawl SOURCE --registry R --db D`` — the real command line,
  every middleware, WARC writing, the cleaning chain and the SQLite archive.
  The site is registered (a registry entry, as a real source is) because an
  unregistered ``--url`` crawl keeps the default page budget of 500 requests;
* bare: bench/bare_spider.py, plain Scrapy fetching the same pages.

pages/s = pages the server answered (list + article pages) / wall seconds of
the process, start-up included; ratio = qsnews / bare (target >= 0.6).  Peak
RSS (target <= 400 MB for qsnews at 10k pages) is that of the process tree:
the crawl starts worker processes (pipelines.offload: a cleaner and a writer), and ``ru_maxrss`` from
``os.wait4`` is only the largest single process of the tree (also reported).
The tree's figure is the largest sum of RSS over the process and all its
descendants, sampled every 0.25 s from /proc (``statm``): an upper bound of what the tree
holds at once (pages shared between processes count once per process), which
can miss a peak shorter than the sampling interval (it is never reported below
the largest process's).  The largest sum of PSS (shared pages split between
the processes sharing them: what the tree really holds) is reported beside it,
sampled every second: ``smaps_rollup`` walks each process's page tables (~2 ms
a process), CPU taken from the crawl on a machine whose cores qsnews keeps busy.
CPU seconds (``os.wait4``: the process and the
descendants it reaped) depend less on what else the machine runs than wall
seconds do.  They are split by process: each worker process's own CPU seconds
are sampled from /proc with the memory, and the crawl process has the rest; no
scheduling makes the wall time shorter than the busiest process's CPU time.  The
server counts what each crawler asked for, which checks that both fetched every page.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler import settings as product  # noqa: E402
from tests.loopback import Page, Site  # noqa: E402

SEEDS = ROOT / "tests" / "fixtures" / "seeds"
PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ]+\)")
SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]")
# qsnews crawls per benchmark, each between two bare ones: one run moves by ±10% with the machine.
ROUNDS = 2
# The pacing both crawlers share: the product's own concurrency and robots.txt rules, no politeness delay.
PACING = {"CONCURRENT_REQUESTS": product.CONCURRENT_REQUESTS,
          "CONCURRENT_REQUESTS_PER_DOMAIN": product.CONCURRENT_REQUESTS_PER_DOMAIN,
          "ROBOTSTXT_OBEY": product.ROBOTSTXT_OBEY, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}
TOPICS = ["电梯", "特种设备", "食品", "电动自行车", "儿童玩具", "计量器具", "燃气灶", "校服", "化肥", "电线电缆"]
ACTIONS = ["开展{t}质量专项抽查", "通报{t}产品质量监督抽查结果", "召开{t}安全工作会议", "部署{t}专项整治行动",
           "发布{t}消费警示", "公布{t}抽检不合格名单"]
PLACES = ["武汉市", "宜昌市", "襄阳市", "荆州市", "孝感市", "黄冈市", "咸宁市", "十堰市", "崇阳县", "襄州区"]
NAV = "".join(f'<li><a href="/col/{i}/index.html">{name}</a></li>' for i, name in enumerate(
    ["首页", "机构概况", "政务公开", "工作动态", "通知公告", "质量抽查", "特种设备", "标准计量", "执法稽查", "互动交流",
     "办事服务", "专题专栏"]))
FOOTER = ('<div class="footer"><p>主办单位：湖北省市场监督管理局　地址：武汉市武昌区中北路</p>'
          '<p>鄂ICP备05003305号　鄂公网安备 42010602000XXX号　网站标识码：4200000051</p></div>')


def sentences() -> list[str]:
    """Real sentences of the seed pages: pinyin annotations removed, in simplified script."""
    import opencc

    t2s = opencc.OpenCC("t2s")
    text = "\n".join(PINYIN.sub("", p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt")))
    return [s.strip() for s in SENTENCE.findall(t2s.convert(text)) if len(s.strip()) >= 12]


def article(rng: random.Random, pool: list[str], title: str, date: str, related: list[tuple[str, str]]) -> bytes:
    paragraphs = ["".join(rng.sample(pool, rng.randint(1, 4))) for _ in range(rng.randint(4, 14))]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    caption = f'<p style="text-align:center"><img src="/images/{rng.randrange(10**8):08d}.jpg"></p>' \
              f'<p style="text-align:center">{title[:12]}现场。通讯员供图</p>'
    links = "".join(f'<li><a href="{path}">{text}</a></li>' for path, text in related)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}_湖北省市场监督管理局</title>'
            f'<meta name="PubDate" content="{date} 09:30"><meta name="ContentSource" content="湖北省市场监督管理局">'
            f'<meta name="ColumnName" content="工作动态"><link rel="stylesheet" href="/css/main.css"></head><body>'
            f'<div class="header"><ul class="nav">{NAV}</ul></div>'
            f'<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/list/index.html">工作动态</a></div>'
            f'<div class="article"><h1>{title}</h1><div class="info">发布时间：{date} 09:30　'
            f'来源：湖北省市场监督管理局　作者：张城</div><div class="content">{caption}{body}</div>'
            f'<div class="share">分享到：微信 微博</div></div>'
            f'<div class="related"><h3>相关阅读</h3><ul>{links}</ul></div>{FOOTER}</body></html>').encode("utf-8")


def site_pages(n: int, seed: int) -> tuple[dict, int]:
    """``{("127.0.0.1", path): Page}`` for ``n`` articles and their list pages; returns (pages, list pages)."""
    rng = random.Random(seed)
    pool = sentences()
    entries = []
    for i in range(n):
        day = 1 + i % 28
        date = f"{2024 - i // 3000}-{1 + (i // 250) % 12:02d}-{day:02d}"
        path = f"/news/{date[:4]}/{date[5:7]}{date[8:]}/{rng.getrandbits(40):010x}.html"
        title = rng.choice(PLACES) + "市场监管局" + rng.choice(ACTIONS).format(t=rng.choice(TOPICS))
        entries.append((path, title, date))
    pages = {}
    for path, title, date in entries:
        related = [(p, t) for p, t, _ in rng.sample(entries, min(5, n))]
        pages[("127.0.0.1", path)] = Page(article(rng, pool, title, date, related))
    per_page = max(20, math.ceil(n / 25))
    chunks = [entries[i:i + per_page] for i in range(0, n, per_page)]
    for k, chunk in enumerate(chunks):
        items = "".join(f'<li><a href="{p}" title="{t}">{t}</a><span>{d}</span></li>' for p, t, d in chunk)
        nxt = f'<a href="/list/index_{k + 1}.html">下一页</a>' if k + 1 < len(chunks) else ""
        name = "/list/index.html" if k == 0 else f"/list/index_{k}.html"
        pages[("127.0.0.1", name)] = Page(
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>工作动态_湖北省市场监督管理局</title></head>'
            f'<body><div class="header"><ul class="nav">{NAV}</ul></div><ul class="list">{items}</ul>'
            f'<div class="page">共{len(chunks)}页 {nxt}</div>{FOOTER}</body></html>'.encode("utf-8"))
    pages[("127.0.0.1", "/robots.txt")] = Page(b"User-agent: *\nDisallow: /admin/\n", "text/plain")
    return pages, len(chunks)


def timed(command: list[str], log: Path) -> dict:
    """Run ``command``; wall and CPU seconds, exit status, peak RSS (MB) of its process tree and largest process,
    and the CPU seconds of its descendants (the worker processes)."""
    env = {**os.environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "no_proxy": "127.0.0.1"}
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = {"mb": 0.0, "pss_mb": 0.0, "processes": 1, "descendant_cpu": {}}
        sampler = threading.Thread(target=sample_tree, args=(proc.pid, peak), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    largest_mb = usage.ru_maxrss / 1024
    return {"seconds": time.perf_counter() - started, "exit": proc.returncode, "cpu_seconds": usage.ru_utime +
            usage.ru_stime, "peak_rss_mb": max(peak["mb"], largest_mb), "processes": peak["processes"],
            "peak_pss_mb": peak["pss_mb"], "largest_process_rss_mb": largest_mb,
            "descendant_cpu_seconds": sorted(peak["descendant_cpu"].values(), reverse=True)}


def tree(root: int) -> set[int]:
    """``root`` and its descendants now, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    pids, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in pids} - pids
        pids |= more
        grew = bool(more)
    return pids


def tree_rss_mb(pids: set[int]) -> float:
    """Summed RSS MB of the processes ``pids`` now, from /proc (``statm``: a counter, cheap to read)."""
    pages = 0
    for pid in pids:
        try:
            pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError):  # gone, or a zombie
            continue
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def tree_pss_mb(pids: set[int]) -> float:
    """Summed PSS MB of the processes ``pids`` now, from /proc (``smaps_rollup``: a walk of the page tables)."""
    kb = 0
    for pid in pids:
        try:
            kb += sum(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                      if line.startswith("Pss:"))
        except OSError:  # gone, or a zombie
            continue
    return kb / 1024


def own_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` itself so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sample_tree(root: int, peak: dict) -> None:
    """Every 0.25 s until ``root`` has exited, keep in ``peak`` the largest tree RSS seen (PSS: every 1 s)
    and the latest CPU seconds of each descendant (a descendant's last 0.25 s before it exits can be missed)."""
    for count in itertools.count():
        if not Path(f"/proc/{root}").exists():
            return
        pids = tree(root)
        rss = tree_rss_mb(pids)
        if rss > peak["mb"]:
            peak.update(mb=rss, processes=len(pids))
        if count % 4 == 0:
            peak["pss_mb"] = max(peak["pss_mb"], tree_pss_mb(pids))
        for pid in pids - {root}:
            seconds = own_cpu_seconds(pid)
            if seconds is not None:
                peak["descendant_cpu"][pid] = seconds
        time.sleep(0.25)


def fetched(site: Site) -> dict:
    """Article and list pages the server was asked for since the last call (each one it serves exists)."""
    paths = [path for _, path in site.requests]
    site.requests.clear()
    return {"articles": sum(p.startswith("/news/") for p in paths), "lists": sum(p.startswith("/list/") for p in paths)}


def run(n: int, seed: int, workdir: Path, rounds: int = ROUNDS) -> dict:
    pages, lists = site_pages(n, seed)
    pacing = [arg for name, value in PACING.items() for arg in ("-s", f"{name}={value}")]
    bares, crawls = [], []
    with Site(pages) as site:
        start = f"http://127.0.0.1:{site.port}/list/index.html"
        registry = workdir / "sources.toml"
        registry.write_text(
            f'[[source]]\nname = "bench"\nkind = "bureau"\nlevel = "province"\nregion_code = "420000"\n'
            f'cms = "generic"\nstart_urls = ["{start}"]\nallowed_domains = ["127.0.0.1"]\n'
            f'max_pages = {n + lists + 10}\n', encoding="utf-8")

        def bare_run() -> dict:
            counts = workdir / f"bare-{len(bares) + 1}.json"
            result = timed([sys.executable, str(ROOT / "bench" / "bare_spider.py"), start, "--out", str(counts),
                            *pacing], workdir / f"bare-{len(bares) + 1}.log")
            return {**result, "served": fetched(site), "counted": json.loads(counts.read_text())}

        def qsnews_run() -> dict:
            db = workdir / f"qsnews-{len(crawls) + 1}.db"  # a fresh archive each round: the same first crawl
            result = timed([sys.executable, "-m", "crawler.cli", "crawl", "bench", "--registry", str(registry),
                            "--db", str(db), *pacing, "-s", "QSNEWS_ALLOW_LOOPBACK=1",
                            "-s", "QSNEWS_RETRY_BACKOFF_BASE=0"], workdir / f"qsnews-{len(crawls) + 1}.log")
            return {**result, "served": fetched(site), "archived": archived(db)}

        bares.append(bare_run())
        for _ in range(rounds):
            crawls.append(qsnews_run())
            bares.append(bare_run())
    for r in (*bares, *crawls):
        r["pages_per_s"] = (r["served"]["articles"] + r["served"]["lists"]) / r["seconds"]
    # Each qsnews crawl against the bare crawls just before and after it: the machine's speed drifts over minutes.
    ratios = [q["pages_per_s"] / ((bares[k]["pages_per_s"] + bares[k + 1]["pages_per_s"]) / 2)
              for k, q in enumerate(crawls)]
    return {"pages": n, "list_pages": lists, "seed": seed, "load_avg": os.getloadavg(), "nproc": os.cpu_count(),
            "pacing": PACING, "bare": _combined(bares), "qsnews": _combined(crawls), "round_ratios": ratios,
            "ratio": sum(ratios) / len(ratios), "ratio_target": 0.6, "rss_target_mb": 400}


def _combined(runs: list[dict]) -> dict:
    """One crawler's runs as one: mean seconds, CPU and pages/s (and worker CPU, when every run had as many
    workers; else the first run's); the largest memory and exit status; the smallest count served, counted or
    archived (a shortfall in any run shows); each run under ``runs``."""
    combined = {**runs[0], "runs": runs}
    for name in ("seconds", "cpu_seconds", "pages_per_s"):
        combined[name] = sum(r[name] for r in runs) / len(runs)
    for name in ("exit", "peak_rss_mb", "peak_pss_mb", "largest_process_rss_mb", "processes"):
        combined[name] = max(r[name] for r in runs)
    for name in ("served", "counted"):
        if name in combined:
            combined[name] = min((r[name] for r in runs), key=lambda pages: (pages["articles"], pages["lists"]))
    if "archived" in combined:
        combined["archived"] = min(r["archived"] for r in runs)
    workers = [r["descendant_cpu_seconds"] for r in runs]
    if len({len(w) for w in workers}) == 1:
        combined["descendant_cpu_seconds"] = [sum(seconds) / len(runs) for seconds in zip(*workers)]
    return combined


def archived(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute("select count(*) from articles").fetchone()[0]
    finally:
        conn.close()


def _ms_per_page(x: dict, seconds: float) -> float:
    """``seconds`` of crawler run ``x`` in ms per page it fetched."""
    return 1000 * seconds / max(x["served"]["articles"] + x["served"]["lists"], 1)


def report(r: dict) -> str:
    q, b = r["qsnews"], r["bare"]
    lines = [f"site: {r['pages']:,} article pages + {r['list_pages']} list pages (seed {r['seed']}); "
             f"load average {r['load_avg'][0]:.2f} on {r['nproc']} cores at the end",
             f"{'crawler':8} {'articles':>9} {'lists':>6} {'seconds':>8} {'pages/s':>8} {'CPU ms/page':>12} "
             f"{'peak RSS MB':>12} {'exit':>5}"]
    order = [(f"bare {k + 1}", x) for k, x in enumerate(b["runs"])]
    for k, x in enumerate(q["runs"]):
        order.insert(2 * k + 1, (f"qsnews {k + 1}", x))
    for name, x in order:
        lines.append(f"{name:8} {x['served']['articles']:>9,} {x['served']['lists']:>6} {x['seconds']:>8.1f} "
                     f"{x['pages_per_s']:>8.1f} {_ms_per_page(x, x['cpu_seconds']):>12.1f} "
                     f"{x['peak_rss_mb']:>12.0f} {x['exit']:>5}")
    archived_counts = ", ".join(f"{x['archived']:,}" for x in q["runs"])
    lines.append(f"qsnews archived {archived_counts} articles (each run into a fresh archive)")
    workers = q["descendant_cpu_seconds"]
    crawl_process = q["cpu_seconds"] - sum(workers)
    busiest = max([crawl_process, *workers])
    lines.append(f"qsnews CPU by process (ms/page, mean of its runs): "
                 f"crawl process {_ms_per_page(q, crawl_process):.1f}, "
                 f"{len(workers)} worker process{'es' if len(workers) != 1 else ''} (a cleaner and a writer per worker) "
                 f"{' + '.join(f'{_ms_per_page(q, w):.1f}' for w in workers) or '-'}; "
                 f"the busiest process was on a core {100 * busiest / q['seconds']:.0f}% of the wall time")
    rounds = ", ".join(f"{x:.3f}" for x in r["round_ratios"])
    lines.append(f"throughput ratio qsnews / bare (the mean over qsnews runs, each against the bare runs before "
                 f"and after it): {r['ratio']:.3f} ({rounds}; target >= {r['ratio_target']}); "
                 f"qsnews peak RSS {q['peak_rss_mb']:.0f} MB (target <= {r['rss_target_mb']} MB), "
                 f"summed over {q['processes']} processes (PSS {q['peak_pss_mb']:.0f} MB); "
                 f"the largest one {q['largest_process_rss_mb']:.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000, help="article pages on the site")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="qsnews crawls, each between two bare ones")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--keep", type=Path, help="keep the archive and logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.pages, args.seed, args.keep, args.rounds)
    else:
        with tempfile.TemporaryDirectory(prefix="qsnews-bench-throughput-") as tmp:
            result = run(args.pages, args.seed, Path(tmp), args.rounds)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
