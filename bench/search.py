"""Search benchmark: ranked 2-character search, the Datasette table search page and a 10k-row CSV export.

    .venv/bin/python bench/search.py [--articles 1000000] [--seed 11] [--repeat 5] [--shared ../shared]

A synthetic archive of ``--articles`` articles is generated reproducibly
(fixed seed) from real text: the sentences of the Chinese subset of the
magic-html benchmark (ground-truth bodies) and of the seed pages (pinyin
annotations removed).  Each article has a quality-supervision headline built
from a topic (校服, 电梯, 燃气灶 ...) and a region, a body of real sentences of
realistic length (log-normal, median ~900 characters, 150-6,000) in which its
topic recurs, a province / prefecture / section / source / date; 12% are in
traditional script (OpenCC s2t), as mirrored Hong Kong / Taiwan-style sources are.

The database goes through the store's own schema and migrations
(``archive.store.Archive``), and the index through the same tokeniser
(``archive.search.index_text``) the triggers call; only the per-row trigger is
replaced by batched inserts (tokenised in a process pool) for speed.  Paragraph
rows are not written (nothing measured reads them).  The built database is
cached in ``bench/.cache/`` (gitignored) by size, seed and generator version.

Measured (after one warm-up per query):

* ranked search: ``archive.queries.ranked_search`` (what ``/-/search`` runs:
  count + one bm25-ranked page of 20) over a mix of two-character words, rare
  to very common, simplified and traditional;
* table search page: ``GET /<db>/articles?_search=<word>`` over HTTP against a
  ``datasette serve`` started with ``archive.serve.datasette_argv`` (facets,
  count, the HTML page);
* CSV export: ``GET /-/export.csv?...`` with the filter whose row count is
  closest to 10,000, read to the end;
* not in the targets: both searches narrowed by a province facet (``FILTERED``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import schema, search  # noqa: E402
from archive.store import Archive  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
GENERATOR_VERSION = 1
CHUNK = 5000
PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ]+\)")
SENTENCE = re.compile(r"[^。！？\n]+[。！？]?")

# Topics a quality-supervision bureau writes about, with relative frequency.
TOPICS = {
    "校服": 3, "电梯": 8, "燃气灶": 2, "儿童玩具": 3, "电动自行车": 5, "奶粉": 2, "化肥": 2, "钢筋": 2,
    "口罩": 2, "特种设备": 10, "计量器具": 4, "食品": 12, "电线电缆": 3, "安全帽": 1, "眼镜": 1, "轮胎": 1,
    "纺织品": 3, "建材": 3, "加油机": 1, "压力容器": 3, "锅炉": 2, "农资": 3, "化妆品": 2, "消防产品": 2,
}
ACTIONS = ["开展{t}质量专项抽查", "通报{t}产品质量监督抽查结果", "召开{t}安全工作会议", "部署{t}专项整治行动",
           "对{t}生产企业开展执法检查", "发布{t}消费警示", "组织{t}质量提升培训", "公布{t}抽检不合格名单",
           "查处一批不合格{t}", "推进{t}标准化建设"]
SECTIONS = ["工作动态", "质量抽查", "通知公告", "执法稽查", "特种设备", "标准计量", "基层动态", "媒体关注"]
# Province, weight (bigger provinces publish more), prefectures.
PROVINCES = [
    ("广东省", 8, ["广州市", "深圳市", "佛山市", "东莞市"]), ("浙江省", 8, ["杭州市", "宁波市", "温州市"]),
    ("江苏省", 8, ["南京市", "苏州市", "无锡市"]), ("山东省", 7, ["济南市", "青岛市", "烟台市"]),
    ("河南省", 5, ["郑州市", "洛阳市"]), ("四川省", 5, ["成都市", "绵阳市"]), ("湖北省", 5, ["武汉市", "宜昌市"]),
    ("福建省", 4, ["福州市", "厦门市"]), ("湖南省", 4, ["长沙市", "株洲市"]), ("河北省", 4, ["石家庄市", "保定市"]),
    ("安徽省", 4, ["合肥市", "芜湖市"]), ("北京市", 3, []), ("上海市", 3, []), ("天津市", 2, []), ("重庆市", 2, []),
    ("辽宁省", 3, ["沈阳市", "大连市"]), ("陕西省", 3, ["西安市"]), ("江西省", 3, ["南昌市"]), ("广西壮族自治区", 3, ["南宁市"]),
    ("云南省", 2, ["昆明市"]), ("贵州省", 2, ["贵阳市"]), ("山西省", 2, ["太原市"]), ("吉林省", 2, ["长春市"]),
    ("黑龙江省", 2, ["哈尔滨市"]), ("内蒙古自治区", 1, ["呼和浩特市"]), ("新疆维吾尔自治区", 1, ["乌鲁木齐市"]),
    ("甘肃省", 1, ["兰州市"]), ("海南省", 1, ["海口市"]), ("宁夏回族自治区", 1, ["银川市"]), ("青海省", 1, ["西宁市"]),
    ("西藏自治区", 1, ["拉萨市"]),
]
# Two-character queries: topic words of several frequencies, words of the real sentences, both scripts.
QUERIES = ["校服", "电梯", "奶粉", "口罩", "锅炉", "眼镜", "抽查", "质量", "安全", "企业", "检验", "发展",
           "電梯", "檢驗", "質量", "創新"]
# Searches narrowed by a facet (not in the targets; the window then walks hits until it holds enough
# articles of the place): a common word with the smallest and a big province, a topic word with a small one.
FILTERED = [("企业", "青海省"), ("企业", "广东省"), ("检验", "宁夏回族自治区"), ("校服", "西藏自治区")]
ARTICLE_COLUMNS = ("id", "url", "source_id", "title", "title_derived", "published_at", "published_raw",
                   "source_name", "section", "province", "prefecture", "county", "region_code", "body",
                   "body_simplified", "paragraph_count", "flags", "content_hash", "first_seen_at", "last_seen_at")


def load_sentences(shared: Path) -> list[str]:
    """Real sentences (simplified script) of the magic-html ground truth and the seed pages."""
    import opencc

    t2s = opencc.OpenCC("t2s")
    texts = [v["content"] for _, v in sorted(json.loads(
        (shared / "benchmarks/magic-html-zh/ground-truth.json").read_text(encoding="utf-8")).items())]
    for path in sorted((shared / "seeds").glob("*.txt")):
        lines = [PINYIN.sub("", t2s.convert(line)).strip() for line in path.read_text(encoding="utf-8").splitlines()]
        texts.append("\n".join(line for line in lines if len(line) >= 20 and not line.startswith("- ")))
    sentences = []
    for text in texts:
        sentences += [s.strip() for s in SENTENCE.findall(text) if len(s.strip()) >= 8 and search._HAN_RUN.search(s)]
    return sorted(set(sentences))


_WORKER: dict = {}


def _init_worker(sentences: list[str], seed: int) -> None:
    import opencc

    _WORKER.update(sentences=sentences, seed=seed, s2t=opencc.OpenCC("s2t"))


def _article(rng: random.Random, article_id: int) -> dict:
    sentences, s2t = _WORKER["sentences"], _WORKER["s2t"]
    topic = rng.choices(list(TOPICS), list(TOPICS.values()))[0]
    province, _, prefectures = rng.choices(PROVINCES, [p[1] for p in PROVINCES])[0]
    prefecture = rng.choice(prefectures) if prefectures and rng.random() < 0.6 else None
    where = prefecture or province
    title = where + "市场监管局" + rng.choice(ACTIONS).format(t=topic)
    target = min(6000, max(150, int(rng.lognormvariate(math.log(900), 0.6))))
    paragraphs, length, current = [], 0, []
    while length < target:
        s = rng.choice(sentences)
        if rng.random() < 0.12:
            s = f"此次{topic}{rng.choice(['抽查', '检查', '整治'])}共涉及{rng.randint(2, 300)}家企业。"
        current.append(s)
        length += len(s)
        if len(current) >= rng.randint(2, 5):
            paragraphs.append("".join(current))
            current = []
    if current:
        paragraphs.append("".join(current))
    paragraphs.insert(0, f"近日，{where}市场监管局{rng.choice(ACTIONS).format(t=topic)}。")
    body_simplified = "\n".join(paragraphs)
    traditional = rng.random() < 0.12
    body = s2t.convert(body_simplified) if traditional else body_simplified
    if traditional:
        title = s2t.convert(title)
    when = datetime(2010, 1, 1, 8) + timedelta(minutes=rng.randrange(16 * 365 * 24 * 60))
    published = None if rng.random() < 0.04 else when.isoformat() + "+08:00"
    seen = "2026-01-01T00:00:00+00:00"
    return {
        "id": article_id, "url": f"http://www.example-{article_id % 997}.gov.cn/art/{article_id}.html",
        "source_id": 1 + article_id % 997, "title": title, "title_derived": 0, "published_at": published,
        "published_raw": published[:10] if published else None,
        "source_name": where + ("市场监督管理局" if rng.random() < 0.7 else "质量技术监督局"),
        "section": rng.choice(SECTIONS), "province": province, "prefecture": prefecture, "county": None,
        "region_code": None, "body": body, "body_simplified": body_simplified, "paragraph_count": len(paragraphs),
        "flags": '["title_derived"]' if rng.random() < 0.03 else "[]",
        "content_hash": hashlib.sha256(body_simplified.encode("utf-8")).hexdigest(),
        "first_seen_at": seen, "last_seen_at": seen,
    }


def _chunk(start: int) -> tuple[list[tuple], list[tuple]]:
    """Rows for articles start .. start+CHUNK-1 and their index entries (same tokeniser as the triggers)."""
    rows, fts = [], []
    rng = random.Random(f"{_WORKER['seed']}-{start}")
    for article_id in range(start, start + CHUNK):
        a = _article(rng, article_id)
        rows.append(tuple(a[c] for c in ARTICLE_COLUMNS))
        fts.append((article_id, search.index_text(a["title"]), search.index_text(a["body"])))
    return rows, fts


def _chunks(count: int, seed: int, shared: Path, workers: int):
    """(article rows, index entries) in order, CHUNK articles at a time, generated and tokenised in a pool."""
    sentences = load_sentences(shared)
    starts = list(range(1, count + 1, CHUNK))
    done = 0
    with multiprocessing.get_context("fork").Pool(workers, _init_worker, (sentences, seed)) as pool:
        pending = [pool.apply_async(_chunk, (s,)) for s in starts[: workers + 1]]  # bounded: rows are big
        queued = len(pending)
        while pending:
            rows, fts = pending.pop(0).get()
            if queued < len(starts):
                pending.append(pool.apply_async(_chunk, (starts[queued],)))
                queued += 1
            yield rows[: count - done], fts[: count - done]
            done += len(rows[: count - done])


# The index entries of bulk-built articles, keyed as the store's triggers key them (from the stored row).
INDEX_INSERT = (f"insert into {schema.FTS_TABLE}(rowid, title, body) "
                f"select {schema.search_key('a')}, ?, ? from articles a where a.id = ?")


def _index_rows(fts: list[tuple]) -> list[tuple]:
    return [(title, body, article_id) for article_id, title, body in fts]


def _bulk(conn: sqlite3.Connection) -> None:
    conn.execute("pragma journal_mode = delete")
    conn.execute("pragma synchronous = off")
    conn.execute("pragma cache_size = -1000000")
    conn.execute(f"insert into {schema.FTS_TABLE}({schema.FTS_TABLE}, rank) values ('hashsize', {64 << 20})")


def _unbulk(conn: sqlite3.Connection) -> None:
    conn.execute(f"delete from {schema.FTS_TABLE}_config where k = 'hashsize'")  # back to the store's default
    conn.execute("pragma journal_mode = wal")


def build(path: Path, count: int, seed: int, shared: Path, workers: int) -> None:
    tmp = path.with_suffix(".building")
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    Archive(tmp).close()  # the store's schema, migrations and index fingerprint
    conn = sqlite3.connect(tmp, isolation_level=None)
    _bulk(conn)
    conn.executemany("insert into sources (id, name, kind) values (?, ?, 'bureau')",
                     [(i, f"source-{i}") for i in range(1, 998)])
    conn.execute("drop trigger articles_fts_insert")  # batched below, through the same index_text
    t0, done = time.perf_counter(), 0
    insert = f"insert into articles ({', '.join(ARTICLE_COLUMNS)}) values ({', '.join('?' * len(ARTICLE_COLUMNS))})"
    for rows, fts in _chunks(count, seed, shared, workers):
        conn.execute("begin")
        conn.executemany(insert, rows)
        conn.executemany(INDEX_INSERT, _index_rows(fts))
        conn.execute("commit")
        done += len(rows)
        if done % 50000 < CHUNK or done == count:
            print(f"  built {done:,}/{count:,} articles in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    conn.execute(schema._FTS_TRIGGERS[0])
    _unbulk(conn)
    conn.execute("analyze")
    conn.close()
    tmp.rename(path)


def cached_db(count: int, seed: int, shared: Path, workers: int) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{GENERATOR_VERSION} {search.index_fingerprint()}".encode()).hexdigest()[:8]
    path = CACHE / f"search-{count}-s{seed}-{key}.db"  # no dots: Datasette names the database by the stem
    if not path.exists():
        print(f"building {path.name} ...", file=sys.stderr)
        build(path, count, seed, shared, workers)
    upgrade(path, count, seed, shared, workers)
    return path


def upgrade(path: Path, count: int, seed: int, shared: Path, workers: int) -> None:
    """Bring a cache built by older code to the current schema without rebuilding its articles.

    Bulk-built articles never pass through the store, so they are never clustered (cluster_id NULL):
    the reprint tables empty and the story index (migrations 5 and 6) are exactly what a fresh build
    has.  Migration 5's cluster rebuild is skipped on purpose: it would find nothing to do but cost
    minutes per million articles.  Migration 7 (the index keyed by date) re-indexes every article: the
    same batched, pooled path as the build (the generator is deterministic, so it yields the same
    tokens the triggers would), committed per chunk and recorded last, so an interrupted upgrade restarts.
    """
    from archive import clusters, versions

    conn = sqlite3.connect(path, isolation_level=None)
    search.register_functions(conn)
    try:
        done = schema.current_version(conn)
        if done >= schema.LATEST:
            return
        print(f"upgrading {path.name} from schema {done} to {schema.LATEST} ...", file=sys.stderr)
        with schema.transaction(conn):
            clusters.ensure_tables(conn)
            versions.ensure_tables(conn)
            for version, description, step in schema.MIGRATIONS:
                if version == 7:
                    schema._install_triggers(conn)
                elif version > max(done, 5):
                    step(conn)
        if done < 7:
            _reindex(conn, count, seed, shared, workers)
        with schema.transaction(conn):
            for version, description, _ in schema.MIGRATIONS:
                if version > done:
                    conn.execute(f"insert into {schema.VERSION_TABLE}(version, description, applied_at) "
                                 "values (?, ?, datetime('now'))", (version, description))
    finally:
        conn.close()


def _reindex(conn: sqlite3.Connection, count: int, seed: int, shared: Path, workers: int) -> None:
    _bulk(conn)
    conn.execute(f"insert into {schema.FTS_TABLE}({schema.FTS_TABLE}) values ('delete-all')")
    t0, done = time.perf_counter(), 0
    for _, fts in _chunks(count, seed, shared, workers):
        conn.execute("begin")
        conn.executemany(INDEX_INSERT, _index_rows(fts))
        conn.execute("commit")
        done += len(fts)
        if done % 50000 < CHUNK or done == count:
            print(f"  re-indexed {done:,}/{count:,} articles in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    _unbulk(conn)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_datasette(path: Path, settings=()):
    from archive.serve import datasette_argv

    port = free_port()
    argv = datasette_argv(path, port=port)
    for name, value in settings:
        argv += ["--setting", name, value]
    exe = Path(sys.executable).with_name("datasette")
    proc = subprocess.Popen([str(exe), *argv[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        try:
            if httpx.get(base + "/-/versions.json", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"datasette exited: {proc.stderr.read().decode(errors='replace')}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("datasette did not start")


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query (after one warm-up)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="processes generating and tokenising while the main one inserts")
    parser.add_argument("--queries", default=",".join(QUERIES), help="comma-separated search words")
    parser.add_argument("--setting", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="extra `datasette --setting` for the table-page run (default: as deployed)")
    parser.add_argument("--skip-ranked", action="store_true", help="only the HTTP measurements")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the cached archive and stop")
    args = parser.parse_args(argv)
    queries_ = [q for q in args.queries.split(",") if q]

    from archive import queries

    path = cached_db(args.articles, args.seed, args.shared, args.workers)
    if args.build_only:
        print(path)
        return 0
    size = sum(Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists())
    conn = sqlite3.connect(path)
    search.register_functions(conn)
    n = conn.execute("select count(*) from articles").fetchone()[0]
    chars = conn.execute("select avg(length(body)) from articles").fetchone()[0]
    print(f"archive: {n:,} articles, mean body {chars:.0f} characters, {size / 1e9:.2f} GB ({path.name})")

    results: dict[str, list[float]] = {"ranked": [], "table": [], "export": [], "ranked_filtered": [],
                                       "table_filtered": []}
    per_query = []
    for q in queries_:
        hits = conn.execute(f"select count(*) from {schema.FTS_TABLE} where {schema.FTS_TABLE} match ?",
                            (search.to_fts_query(q),)).fetchone()[0]
        ms = [0.0] if args.skip_ranked else timed(lambda: queries.ranked_search(conn, q, {}, 20, 0), args.repeat)
        results["ranked"] += ms
        per_query.append([q, hits, statistics.median(ms)])

    import httpx

    filtered = []
    proc, base = start_datasette(path, args.setting)
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            db = path.stem
            for i, q in enumerate(queries_):
                url = f"/{db}/articles?" + urlencode({"_search": q})

                statuses = []

                def get(url=url, statuses=statuses):
                    r = client.get(url)
                    statuses.append(r.status_code)
                    if "SQL query took too long" in r.text:
                        statuses.append("rows query timed out")
                    if 'class="facets-timed-out"' in r.text:
                        statuses.append("facets timed out")
                    if r.status_code == 200 and not re.search(r"<h3>[\d,]+ rows?\b", r.text):
                        statuses.append("no row count")

                ms = timed(get, args.repeat)
                results["table"] += ms
                problems = sorted({str(x) for x in statuses if x != 200})
                per_query[i] += [statistics.median(ms), ",".join(problems) or "ok"]
            for q, province in FILTERED:
                ranked = timed(lambda: queries.ranked_search(conn, q, {"province": province}, 20, 0), args.repeat)
                url = f"/{db}/articles?" + urlencode({"_search": q, "province": province})
                table = timed(lambda: client.get(url).raise_for_status(), args.repeat)
                results["ranked_filtered"] += ranked
                results["table_filtered"] += table
                filtered.append((q, province, statistics.median(ranked), statistics.median(table)))
            # The export: the facet filter whose row count is closest to 10,000.
            candidates = conn.execute("select province, count(*) from articles group by 1").fetchall()
            province, rows = min(candidates, key=lambda c: abs(c[1] - 10_000))
            params = {"province": province}
            export_url = "/-/export.csv?" + urlencode(params)

            def export():
                with client.stream("GET", export_url) as r:
                    assert r.status_code == 200
                    for _ in r.iter_bytes():
                        pass

            results["export"] = timed(export, args.repeat)
    finally:
        proc.terminate()
        proc.wait(10)

    print()
    print(f"{'query':6} {'hits':>9} {'ranked p50 ms':>14} {'table page p50 ms':>18}  table page status")
    for q, hits, ranked, table, status in per_query:
        print(f"{q:6} {hits:>9,} {ranked:>14.1f} {table:>18.1f}  {status}")
    print()
    print("with a facet filter (not in the targets):")
    for q, province, ranked, table in filtered:
        print(f"  {q} + province={province}: ranked p50 {ranked:.1f} ms, table page p50 {table:.1f} ms")
    print()
    if args.setting:
        print("datasette settings: " + ", ".join(f"{k}={v}" for k, v in args.setting))
    print(f"{'measurement':46} {'p50 ms':>8} {'p95 ms':>8} {'runs':>5}")
    labels = {
        "ranked": "ranked 2-char search (queries.ranked_search)",
        "table": "table search page /<db>/articles?_search=",
        "ranked_filtered": "ranked search with a province filter",
        "table_filtered": "table search page with a province filter",
        "export": f"CSV export {rows:,} rows ({', '.join(f'{k}={v}' for k, v in params.items())})",
    }
    for key, label in labels.items():
        values = results[key]
        print(f"{label:46} {pct(values, 50):>8.1f} {pct(values, 95):>8.1f} {len(values):>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
