"""Reprint-cluster benchmark: precision, recall and speed of archive.clusters on a synthetic archive.

    .venv/bin/python bench/reprints.py [--articles 100000] [--seed 7] [--shared ../shared]

The corpus is generated reproducibly (fixed seed) from real text: the Chinese
subset of the magic-html benchmark (ground-truth bodies) and the seed pages
(converted to simplified script, pinyin annotations removed).  Real texts are
cut into clauses; each real text is a *topic*.  A distinct story takes half of
its clauses from its topic's text and half from all texts, in a new order, with
its own numbers, so stories on one topic share vocabulary, entities and phrases
but are different stories: the hard negatives.  Some stories on a topic also
share a background paragraph, as template notices do.

Each story is published by a bureau (or a portal) and reprinted 0-20 times by
portals, mirrors and other bureaus, sometimes from an earlier reprint, with the
edits reprints show: a new lead line, sentences dropped or added, a quiet edit
of a figure, truncation, boilerplate wrapped around (real related-link lists
from the seed pages and portal chrome), conversion to traditional script.

Reported: pairwise precision and recall over same-cluster pairs (truth: same
story), canonical accuracy (the original chosen), time to rebuild clusters for
N articles in one process, and time to add one article to archives of 1k, 10k
and N articles.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import opencc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from archive import cluster_rebuild, clusters  # noqa: E402

T2S, S2T = opencc.OpenCC("t2s"), opencc.OpenCC("s2t")
PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ]+\)")
CLAUSE = re.compile(r"[^，。；！？：,;:!?\n]+[，。；！？：,;:!?]?")  # seed pages use ASCII commas
LEADS = [
    "本网讯 {c}。", "近日，记者从{r}市场监管局获悉，{c}。", "（来源：{r}市场监督管理局）", "【地方动态】{c}。",
    "据{r}市场监管局消息，{c}。", "编者按：{c}。",
]
REGIONS = ["湖北省", "咸宁市", "崇阳县", "襄阳市", "天津市", "孝感市", "通城县", "荆州市", "宜昌市", "黄石市",
           "十堰市", "恩施州", "随州市", "鄂州市", "武汉市", "江西省", "南昌市", "湖南省", "长沙市", "河南省"]
CHROME = [
    "【字体：大 中 小】", "分享到：", "扫一扫在手机打开当前页", "打印本页 关闭窗口", "【打印】【关闭】",
    "免责声明：本网转载此文出于传递更多信息之目的，不代表本网观点。", "相关阅读", "热图一览",
    "来源：{r}市场监督管理局 发布时间：{d}", "责任编辑：{n}", "点击查看全文", "（未完）", "……",
]
EDITORS = ["罗伯特", "张城", "高云", "黄凰", "傅辉", "李明", "王芳"]


def load_texts(shared: Path) -> tuple[list[str], list[str]]:
    """Real article bodies (simplified) and real boilerplate lines (related-link lists) from the seeds."""
    gold = json.loads((shared / "benchmarks/magic-html-zh/ground-truth.json").read_text())
    texts = [v["content"] for _, v in sorted(gold.items())]
    boiler = []
    for path in sorted((shared / "seeds").glob("*.txt")):
        lines = [PINYIN.sub("", T2S.convert(line)).strip() for line in path.read_text().splitlines()]
        texts.append("\n".join(line for line in lines if len(line) >= 20 and not line.startswith("- ")))
        boiler += [line[2:] for line in lines if line.startswith("- ") and len(line) > 6]
    return texts, boiler


def clauses_of(text: str) -> list[str]:
    return [c for c in (m.strip().rstrip(",;:!?") for m in CLAUSE.findall(text)) if len(c) >= 6]


class Generator:
    """Stories, their reprints and sources, all from one seeded random generator."""

    def __init__(self, texts: list[str], boiler: list[str], seed: int):
        self.rng = random.Random(seed)
        pools = [clauses_of(t) for t in texts]
        self.everything = [c for pool in pools for c in pool]
        self.topics = [pool for pool in pools if len(pool) >= 30]
        self.backgrounds = [self._sentences(self.rng.sample(pool, 4)) for pool in self.topics]
        self.boiler = boiler + CHROME
        self.sources = ([(f"{r}市场监督管理局{i}", "bureau") for i in range(3) for r in REGIONS]
                        + [(f"质量门户{i}", "portal") for i in range(15)] + [(f"镜像站{i}", "mirror") for i in range(15)])

    def _renumber(self, clause: str) -> str:
        return re.sub(r"\d", lambda _: str(self.rng.randrange(10)), clause)

    def _sentences(self, clauses: list[str]) -> list[str]:
        """Join clauses into sentences of 1-3 clauses ending in 。."""
        out, current = [], []
        for c in clauses:
            current.append(c.rstrip("，。；！？："))
            if len(current) >= self.rng.randint(1, 3):
                out.append("，".join(current) + "。")
                current = []
        if current:
            out.append("，".join(current) + "。")
        return out

    def story(self) -> list[str]:
        rng = self.rng
        topic = rng.randrange(len(self.topics))
        pool = self.topics[topic]
        size = int(min(250, max(8, rng.lognormvariate(math.log(55), 0.6))))
        own = rng.sample(pool, min(len(pool) // 3, size // 2))  # a story uses a third of its topic at most
        clauses = own + rng.sample(self.everything, size - len(own))
        rng.shuffle(clauses)
        sentences = self._sentences([self._renumber(c) for c in clauses])
        if rng.random() < 0.3:
            at = rng.randrange(len(sentences) + 1)
            sentences[at:at] = self.backgrounds[topic]
        return sentences

    def reprint(self, sentences: list[str]) -> tuple[list[str], list[str], bool]:
        """An edited copy: (sentences, boilerplate lines around them, traditional script?)."""
        rng, s = self.rng, list(sentences)
        if rng.random() < 0.5:
            lead = rng.choice(LEADS).format(c=rng.choice(self.everything).rstrip("，。；！？："), r=rng.choice(REGIONS))
            s.insert(0, lead)
        if rng.random() < 0.4 and len(s) > 6:
            for _ in range(rng.randint(1, 3)):
                s.pop(rng.randrange(1, len(s)))
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                s.insert(rng.randrange(len(s) + 1), self._sentences(rng.sample(self.everything, 2))[0])
        if rng.random() < 0.2:
            at = rng.randrange(len(s))
            s[at] = self._renumber(s[at])  # a figure quietly changed
        if rng.random() < 0.2 and len(s) > 4:
            s = s[: max(3, math.ceil(len(s) * rng.uniform(0.4, 0.85)))]
        wrap = []
        if rng.random() < 0.5:
            wrap = [line.format(r=rng.choice(REGIONS), d="2024-05-0%d" % rng.randint(1, 9), n=rng.choice(EDITORS))
                    for line in rng.sample(self.boiler, rng.randint(1, 6))]
        return s, wrap, rng.random() < 0.3

    def corpus(self, count: int) -> list[dict]:
        """``count`` articles in publication order, with their true story and whether each is the original."""
        rng, articles, story_id = self.rng, [], 0
        start = datetime(2015, 1, 1, 8, 0)
        while len(articles) < count:
            story_id += 1
            sentences = self.story()
            when = start + timedelta(minutes=rng.randrange(10 * 365 * 24 * 60))
            kind = "bureau" if rng.random() < 0.9 else "portal"
            copies = [{"sentences": sentences, "wrap": [], "trad": False, "when": when, "original": True,
                       "source": rng.choice([s for s in self.sources if s[1] == kind])}]
            reprints = 0 if rng.random() < 0.45 else min(20, 1 + int(rng.expovariate(1 / 2.5)))
            for _ in range(reprints):
                parent = copies[0] if rng.random() < 0.7 else rng.choice(copies)
                s, wrap, trad = self.reprint(parent["sentences"])
                later = parent["when"] + timedelta(minutes=rng.randrange(1, 7 * 24 * 60))
                kind = rng.choices(["portal", "mirror", "bureau"], [6, 3, 1])[0]
                copies.append({"sentences": s, "wrap": wrap, "trad": trad, "when": later, "original": False,
                               "source": rng.choice([s for s in self.sources if s[1] == kind])})
            for c in copies:
                lines = ["".join(c["sentences"][i : i + 3]) for i in range(0, len(c["sentences"]), 3)]
                cut = rng.randint(0, len(c["wrap"]))
                body = "\n".join(c["wrap"][:cut] + lines + c["wrap"][cut:])
                undated = rng.random() < 0.05
                articles.append({"story": story_id, "original": c["original"], "source": c["source"],
                                 "when": c["when"], "published_at": None if undated else c["when"].isoformat() + "+08:00",
                                 "body": S2T.convert(body) if c["trad"] else body, "trad": c["trad"]})
        articles = articles[:count]
        articles.sort(key=lambda a: a["when"])  # undated pages too arrive when they were published
        return articles


def build_db(path: Path, articles: list[dict], sources: list[tuple[str, str]]) -> sqlite3.Connection:
    """A minimal archive with the public column names of sources and articles."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")  # as archive.store
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT UNIQUE, kind TEXT, level TEXT)")
    conn.execute("""CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT UNIQUE, source_id INTEGER,
        title TEXT, published_at TEXT, source_name TEXT, body TEXT, body_simplified TEXT, content_hash TEXT)""")
    with conn:
        conn.executemany("INSERT INTO sources (id, name, kind) VALUES (?, ?, ?)",
                         [(i, name, kind) for i, (name, kind) in enumerate(sources, 1)])
    insert_articles(conn, articles, {s: i for i, s in enumerate(sources, 1)})
    return conn


def insert_articles(conn, articles: list[dict], source_ids: dict, first_id: int = 1, commit: bool = True):
    rows = []
    for n, a in enumerate(articles, first_id):
        simplified = T2S.convert(a["body"]) if a["trad"] else a["body"]  # what the pipeline stores
        rows.append((n, f"https://example.gov.cn/{n}.html", source_ids[a["source"]], simplified[:20],
                     a["published_at"], None, a["body"], simplified,
                     hashlib.sha256(simplified.encode()).hexdigest()))
    conn.executemany("INSERT INTO articles (id, url, source_id, title, published_at, source_name, body,"
                     " body_simplified, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    if commit:
        conn.commit()


def pair_scores(predicted: list, truth: list) -> tuple[float, float]:
    """Pairwise precision and recall: same-cluster pairs against same-story pairs."""
    def pairs(counter):
        return sum(k * (k - 1) // 2 for k in counter.values())
    both = pairs(Counter(zip(predicted, truth)))
    found, real = pairs(Counter(predicted)), pairs(Counter(truth))
    return both / found if found else 1.0, both / real if real else 1.0


def score(conn, articles: list[dict]) -> dict:
    ids = {row[0]: row[1] for row in conn.execute("SELECT id, cluster_id FROM articles")}
    predicted = [ids[i] for i in range(1, len(articles) + 1)]
    precision, recall = pair_scores(predicted, [a["story"] for a in articles])
    canonical = dict(conn.execute("SELECT id, canonical_article_id FROM clusters"))
    sizes = Counter(a["story"] for a in articles)
    originals = [(n, a) for n, a in enumerate(articles, 1) if a["original"] and sizes[a["story"]] > 1]
    right = sum(canonical[ids[n]] == n for n, _ in originals)
    return {"precision": precision, "recall": recall, "canonical": right / max(1, len(originals)),
            "stories": len(sizes), "clusters": len(set(predicted))}


def add_one_timing(conn, extra: list[dict], source_ids: dict, first_id: int) -> tuple[list[float], list[int]]:
    """Seconds and SQLite VM instructions of ``assign_cluster`` per article of ``extra``.

    Each article is stored first, in the same transaction, as the store does; the
    commit (an fsync, the same at any archive size) is not counted.  VM instructions
    measure the database work independently of caches and of other processes.
    """
    times, steps = [], []
    counter = [0]

    def count():
        counter[0] += 1
        return 0

    for n, article in enumerate(extra, first_id):
        with conn:
            insert_articles(conn, [article], source_ids, first_id=n, commit=False)
            counter[0] = 0
            conn.set_progress_handler(count, 100)
            started = time.perf_counter()
            clusters.assign_cluster(conn, n)
            times.append(time.perf_counter() - started)
            conn.set_progress_handler(None, 0)
            steps.append(counter[0] * 100)
    return times, steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--adds", type=int, default=50, help="articles added one by one per archive size")
    parser.add_argument("--incremental", type=int, default=10_000,
                        help="also cluster this many articles one by one, as the store does")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    generator = Generator(*load_texts(args.shared), seed=args.seed)
    corpus = generator.corpus(args.articles + args.adds)
    articles = corpus[: args.articles]
    source_ids = {s: i for i, s in enumerate(generator.sources, 1)}
    trad = sum(a["trad"] for a in articles)
    print(f"generated {len(articles)} articles ({trad} in traditional script) + {args.adds} to add, "
          f"from {len(generator.topics)} topics, in {time.perf_counter() - started:.1f} s")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        sizes = sorted({min(1000, args.articles), min(10_000, args.articles), args.articles})
        for size in sizes:
            conn = build_db(Path(tmp) / f"a{size}.db", articles[:size], generator.sources)
            wall, cpu = time.perf_counter(), time.process_time()
            cluster_rebuild.rebuild(conn)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            quality = score(conn, articles[:size])
            load = os.getloadavg()[0]
            # the next articles in publication order: reprints of stories in the archive, and new stories
            adds, steps = add_one_timing(conn, corpus[size : size + args.adds], source_ids, size + 1)
            results[size] = {**quality, "rebuild_s": wall, "rebuild_cpu_s": cpu, "load_avg": load,
                             "add_median_ms": 1000 * statistics.median(adds), "add_max_ms": 1000 * max(adds),
                             "add_median_vm_steps": statistics.median(steps)}
            conn.close()
            r = results[size]
            print(f"N={size:>7}: precision {r['precision']:.4f} recall {r['recall']:.4f} "
                  f"canonical {r['canonical']:.3f} ({r['stories']} stories, {r['clusters']} clusters); "
                  f"rebuild {r['rebuild_s']:.1f} s wall / {r['rebuild_cpu_s']:.1f} s CPU (load {load:.1f}); "
                  f"add one: median {r['add_median_ms']:.2f} ms, max {r['add_max_ms']:.2f} ms, "
                  f"median {r['add_median_vm_steps']:.0f} VM steps", flush=True)
        if args.incremental:
            size = min(args.incremental, args.articles)
            conn = build_db(Path(tmp) / "incremental.db", [], generator.sources)
            adds, _ = add_one_timing(conn, articles[:size], source_ids, 1)
            r = results["incremental"] = {**score(conn, articles[:size]), "seconds": sum(adds)}
            print(f"one by one, N={size}: precision {r['precision']:.4f} recall {r['recall']:.4f} "
                  f"canonical {r['canonical']:.3f}; {r['seconds']:.1f} s in assign_cluster", flush=True)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
