#!/usr/bin/env python3
"""CPU per crawled page, step by step: where qsnews spends its time on one article page.

    .venv/bin/python bench/chain_profile.py [--pages 500] [--repeat 5] [--corpus throughput,fixtures,benchmarks]
                                            [--only chain|crawl|clusters|store] [--json OUT]

Four groups of steps, each timed per page over the same pages:

* crawl: what qsnews adds to Scrapy for one fetched article page — the downloader
  middlewares' work (WARC record, challenge check, binary sniffing, encoding
  decision), the spider's ``parse_article`` (its ``attachments`` scan and the
  parsel selector it builds are shown apart as well), and ``parse_list`` over the
  list pages that link the articles (their cost spread over the article pages);
* chain: the cleaning chain of ``pipelines.chain.extract_html`` — the HTML stage
  split into parse / page meta / segment / body choice / paragraphs, then every
  step of ``chain.STEPS`` and ``to_record``;
* clusters: ``archive.clusters.assign_cluster`` for each record, one by one, into
  a scratch SQLite archive (the real schema's columns the clustering reads);
* store: what a cleaning worker's write costs per article — ``Archive.store_batch``
  of each record with its pages row, 50 to a batch (``QSNEWS_WRITE_BATCH``), into a
  fresh archive: the rows, reprint clustering, the search index, the commits.

Pages: ``throughput`` = the article pages of bench/throughput.py's generated site
(``site_pages``), cleaned with the bench's provincial source and list hints as the
crawl does; ``fixtures`` = tests/fixtures HTML pages; ``benchmarks`` = the shared
extraction sets (../shared/benchmarks).  Each pass runs every page once;
``--repeat`` passes, and the table shows each step's median ms/page over the
passes (the machine is shared and noisy) and the fastest pass, in CPU time.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.equivalence import SOURCE, benchmark_pages, fixture_pages, source_context, throughput_pages


def load(corpus: str, n: int, benchmarks: Path) -> list[tuple[str, bytes, dict, dict]]:
    """(url, raw bytes, source, hints) per article page of a corpus."""
    if corpus == "throughput":
        articles, _ = throughput_pages(n)
        ctx = source_context(SOURCE)
        return [(url, raw, ctx, hints) for _, url, raw, hints in articles]
    if corpus == "fixtures":
        return [(url, raw, {}, {}) for _, url, raw in fixture_pages()]
    if corpus == "benchmarks":
        return [(url or "http://bench.example/", html.encode("utf-8"), {}, {})
                for _, url, html in benchmark_pages(benchmarks)]
    raise SystemExit(f"unknown corpus {corpus}")


class Clock:
    """CPU seconds of this process per named step, summed over one pass (CPU time rather than wall time:
    on a shared machine other processes' work then inflates the figures far less)."""

    def __init__(self):
        self.spent = defaultdict(float)
        self.last = time.process_time()

    def start(self):
        self.last = time.process_time()

    def lap(self, name: str):
        now = time.process_time()
        self.spent[name] += now - self.last
        self.last = now


def chain_pass(pages, texts: list[str]) -> dict:
    from pipelines import chain, density, maintext
    from pipelines.document import Document

    clock = Clock()
    for (url, _, source, hints), html in zip(pages, texts):
        clock.start()
        root = maintext.parse_html(html)
        clock.lap("html: parse")
        if root is None:
            continue
        page_meta = maintext.read_page_meta(root)
        clock.lap("html: page meta")
        walk = maintext.segment(root)
        clock.lap("html: segment (htmlblocks)")
        title = density.title_index(walk.blocks, page_meta)
        ranges, _ = density.choose_ranges(walk, title)
        clock.lap("html: body choice (density)")
        paragraphs = maintext._paragraphs(walk.blocks, ranges, title)
        doc = Document(url=url, html=html, paragraphs=tuple(paragraphs), page_meta=page_meta)
        doc = replace(doc, hints=dict(hints), source=dict(source))
        clock.lap("html: paragraphs")
        for step in chain.STEPS:
            doc = step(doc)
            clock.lap(f"step: {step.__module__.split('.')[-1]}.{step.__name__}")
        chain.to_record(doc)
        clock.lap("to_record")
    return clock.spent


def list_pages(corpus: str, n: int) -> list[tuple[str, bytes]]:
    """(url, raw bytes) of the list pages linking a corpus's articles (the throughput site's only)."""
    if corpus != "throughput":
        return []
    _, lists = throughput_pages(n)
    return [(url, raw) for _, url, raw in lists]


def crawl_pass(pages, warc_dir: Path, lists=()) -> dict:
    from scrapy.http import HtmlResponse, Request
    from warcio.warcwriter import WARCWriter

    from crawler.middlewares import ChallengeMiddleware, EncodingMiddleware, WarcMiddleware
    from crawler.sniff import BinarySniffMiddleware
    from spiders.generic import GenericSpider

    spider = GenericSpider(url="http://127.0.0.1/list/index.html")
    warc = WarcMiddleware.__new__(WarcMiddleware)  # no crawler: write to a scratch file
    warc.handle = open(warc_dir / "profile.warc.gz", "wb")
    warc.writer, warc.name = WARCWriter(warc.handle, gzip=True), "profile.warc.gz"
    challenge = ChallengeMiddleware.__new__(ChallengeMiddleware)
    challenge.blocked = None
    sniff, encoding = BinarySniffMiddleware(), EncodingMiddleware()
    clock = Clock()
    for url, raw, _, hints in pages:
        clock.start()
        request = Request(url, meta={"hints": hints})
        response = HtmlResponse(url, body=raw, headers={"Content-Type": "text/html; charset=utf-8"}, request=request)
        clock.lap("scrapy: Request + HtmlResponse")
        response = warc.process_response(request, response)
        clock.lap("mw: WarcMiddleware")
        response = challenge.process_response(request, response)
        clock.lap("mw: ChallengeMiddleware")
        response = sniff.process_response(request, response)
        clock.lap("mw: BinarySniffMiddleware")
        response = encoding.process_response(request, response)
        clock.lap("mw: EncodingMiddleware")
        response.selector  # noqa: B018 - parsel parses on first use; billed apart from the scan using it
        clock.lap("spider: parsel selector")
        list(spider.attachments(response))
        clock.lap("spider: attachments")
        response = response.replace()  # a fresh response: parse_article as the crawl runs it, selector included
        clock.lap("scrapy: response copy")
        spider.attachments_seen.clear()
        list(spider.parse_article(response))
        clock.lap("spider: parse_article (all)")
    spider.requested.clear()
    spider.max_pages = 10 ** 9
    clock.start()
    for url, raw in lists:  # billed per article page, like everything here: a list page serves many
        request = Request(url)
        list(spider.parse_list(HtmlResponse(url, body=raw, headers={"Content-Type": "text/html; charset=utf-8"},
                                            request=request)))
    clock.lap("spider: parse_list (list pages)")
    warc.handle.close()
    return clock.spent


def clusters_pass(records: list[dict], workdir: Path) -> dict:
    """assign_cluster per record, into a fresh scratch archive opened as archive.store opens one (WAL,
    autocommit, Row factory), each article stored and clustered in one transaction as the store does."""
    from archive import clusters

    path = workdir / "clusters.db"
    for stale in workdir.glob("clusters.db*"):
        stale.unlink()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("pragma journal_mode = wal")
    conn.execute("pragma synchronous = normal")
    conn.executescript("""
        CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT, kind TEXT);
        CREATE TABLE articles (id INTEGER PRIMARY KEY, source_id INTEGER, source_name TEXT, published_at TEXT,
                               body TEXT, body_simplified TEXT);
        INSERT INTO sources VALUES (1, 'bench', 'bureau');
    """)
    clusters.ensure_tables(conn)
    clock = Clock()
    for record in records:
        conn.execute("BEGIN IMMEDIATE")
        article_id = conn.execute(
            "INSERT INTO articles (source_id, source_name, published_at, body, body_simplified) VALUES (1, ?, ?, ?, ?)",
            (record["source_name"], record["published_at"], record["body"], record["body_simplified"])).lastrowid
        clock.start()
        clusters.assign_cluster(conn, article_id)
        clock.lap("clusters: assign_cluster")
        conn.execute("COMMIT")
    conn.close()
    return clock.spent


def store_pass(records: list[dict], workdir: Path, batch: int = 50) -> dict:
    """Archive.store_batch of every record with its pages row, ``batch`` to a transaction, into a fresh archive."""
    from archive.store import Archive

    for stale in workdir.glob("store.db*"):
        stale.unlink()
    with Archive(workdir / "store.db") as archive:
        source_id = archive.upsert_source({"name": SOURCE["name"], "kind": "bureau", "level": "province"})
        entries = [(record, {"url": record["url"], "source_id": source_id, "outcome": "article",
                             "fetched_at": "2026-11-21T09:00:00+08:00", "http_status": 200}) for record in records]
        clock = Clock()
        for start in range(0, len(entries), batch):
            clock.start()
            archive.store_batch(entries[start:start + batch])
            clock.lap(f"store: Archive.store_batch ({batch} a batch)")
    return clock.spent


def table(name: str, passes: list[dict], count: int) -> list[str]:
    steps = list(dict.fromkeys(k for p in passes for k in p))
    lines = [f"{name} ({count} pages, {len(passes)} passes)", f"  {'step':<44} {'median ms/page':>15} {'min':>8}"]
    totals = [sum(p.values()) for p in passes]
    for step in steps:
        values = [p.get(step, 0.0) * 1000 / count for p in passes]
        lines.append(f"  {step:<44} {statistics.median(values):>15.3f} {min(values):>8.3f}")
    values = [t * 1000 / count for t in totals]
    lines.append(f"  {'total':<44} {statistics.median(values):>15.3f} {min(values):>8.3f}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500, help="throughput-bench article pages")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", default="throughput,fixtures")
    parser.add_argument("--only", choices=("chain", "crawl", "clusters", "store"))
    parser.add_argument("--benchmarks", default=str(REPO.parent / "shared" / "benchmarks"))
    parser.add_argument("--json", type=Path, help="also write the per-pass figures here")
    args = parser.parse_args(argv)

    from crawler.encoding import decode_page
    from pipelines.chain import extract_html

    figures = {}
    for corpus in args.corpus.split(","):
        pages = load(corpus, args.pages, Path(args.benchmarks))
        texts = [decode_page(raw)[0] for _, raw, _, _ in pages]
        records = [extract_html(html, url, source=source, hints=hints)  # warms caches and lazy imports too
                   for (url, _, source, hints), html in zip(pages, texts)]
        lists = list_pages(corpus, args.pages)
        with tempfile.TemporaryDirectory(prefix="qsnews-chain-profile-") as tmp:
            groups = {"crawl": (crawl_pass, pages, Path(tmp), lists), "chain": (chain_pass, pages, texts),
                      "clusters": (clusters_pass, records, Path(tmp)), "store": (store_pass, records, Path(tmp))}
            for group, (run, *run_args) in groups.items():
                if args.only and group != args.only:
                    continue
                run(*run_args)  # untimed warm-up pass
                passes = [dict(run(*run_args)) for _ in range(args.repeat)]
                figures[f"{corpus}/{group}"] = passes
                print("\n".join(table(f"{corpus} / {group}", passes, len(pages))), flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
