#!/usr/bin/env python3
"""Output equivalence check for speed work: dump what the per-page code computes, compare two dumps.

    .venv/bin/python bench/equivalence.py dump OUT.json [--pages 500] [--benchmarks DIR]
    .venv/bin/python bench/equivalence.py compare BEFORE.json AFTER.json

A speed change must not change a single output.  ``dump`` runs, over every page
of tests/fixtures (HTML pages decoded as the crawler decodes them, seed texts),
the shared extraction benchmarks (magic-html-zh, scrapinghub) and ``--pages``
article pages of bench/throughput.py's generated site:

* ``records``: ``pipelines.chain.extract_html`` / ``extract_text`` records
  (the throughput pages twice: with the bench's provincial source and its list
  hints, and with no source, so the region is inferred from the text alone);
* ``units``: per paragraph of the HTML stage, the helpers the cleaning steps
  lean on (region scan, script guess, mojibake sites and share);
* ``crawl``: the downloader-middleware and spider decisions per fetched page
  (binary sniffing, encoding, challenge check, links, attachments), plus
  binary sniffing of random byte strings;
* ``clusters``: reprint clusters, MinHash signatures and samples after adding every
  record to a scratch archive one by one, updating some, and a full rebuild.

Run ``dump`` before and after a change (same arguments) and ``compare``: the
sections must be byte-identical.  Not a timed test; it takes a minute or two.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sqlite3
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FIXTURES = REPO / "tests" / "fixtures"
SOURCE = {"name": "bench", "kind": "bureau", "level": "province", "region_code": "420000"}
LISTED = re.compile(r'<li><a href="([^"]+)" title="([^"]+)">[^<]*</a><span>([^<]+)</span></li>')


def fixture_pages():
    """(label, url, bytes) of every HTML file under tests/fixtures."""
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix in (".html", ".htm") and path.is_file():
            rel = path.relative_to(FIXTURES).as_posix()
            host_at = rel.find("127.0.0.1/")
            url = f"http://{rel[host_at:]}" if host_at >= 0 else f"http://fixture.example/{rel}"
            yield f"fixture:{rel}", url, path.read_bytes()


def benchmark_pages(benchmarks: Path):
    from bench.extraction import SETS, load_set

    for name in SETS:
        if not (benchmarks / SETS[name][0]).exists():
            print(f"note: {benchmarks / SETS[name][0]} missing, set skipped", file=sys.stderr)
            continue
        pages, _ = load_set(benchmarks, name, None)
        for page_id, url, html in pages:
            yield f"{name}:{page_id}", url, html


def throughput_pages(n: int, seed: int = 3):
    """(label, url, bytes, hints) of the bench site's article pages, with the hints its list pages give,
    and (label, url, bytes) of its list pages."""
    from bench.throughput import site_pages

    pages, _ = site_pages(n, seed)
    hints = {}
    for (_, path), page in pages.items():
        if path.startswith("/list/"):
            for href, title, day in LISTED.findall(page.body.decode("utf-8")):
                hints[href] = {"list_title": title, "list_date": day}
    articles, lists = [], []
    for (_, path), page in sorted(pages.items()):
        url = f"http://127.0.0.1{path}"
        if path.startswith("/news/"):
            articles.append((f"throughput:{path}", url, page.body, hints.get(path, {})))
        elif path.startswith("/list/"):
            lists.append((f"throughput:{path}", url, page.body))
    return articles, lists


def source_context(source: dict) -> dict:
    """What pipelines.scrapy_adapter.source_context gives the chain (codes plus place names)."""
    from pipelines.regions import lookup

    ctx = dict(source)
    region = lookup(ctx["region_code"])
    ctx.update(province=region.province, prefecture=region.prefecture, county=region.county)
    return ctx


def records_section(html_pages, article_pages, seeds) -> dict:
    from pipelines.chain import extract_html, extract_text

    out = {}
    for label, url, html in html_pages:
        out[label] = extract_html(html, url)
    ctx = source_context(SOURCE)
    for label, url, html, hints in article_pages:
        out[label + "#source"] = extract_html(html, url, source=ctx, hints=hints)
        out[label + "#nosource"] = extract_html(html, url)
    for label, text in seeds:
        out[label] = extract_text(text)
    return out


def units_section(texts: list[str]) -> list:
    from pipelines import mirror, regions, script

    out = []
    for text in texts:
        traditional = script.is_traditional(text)
        out.append({
            "scan": [[r.code for r in mention] for mention in regions._scan(regions.normalize(text))],
            "regions": [r.code for r in regions.find_regions(text)],
            "traditional": traditional,
            "sites": [[(s.start, s.end, s.syllable) for s in mirror.find_sites(text, t)] for t in (False, True)],
            "mojibake": [mirror._mostly_mojibake(text, t) for t in (False, True)],
            "repair": [mirror.repair_mojibake(text, t) for t in (False, True)] if "?" in text else None,
        })
    return out


# Pages whose links test the spider's attachment scan: character references, NULs, <base>, case, fragments.
ODD_LINKS = [
    '<a href="a&#46;pdf">a</a>', '<a href="b.p&#x64;f">b</a>', '<a href="c.pd\x00f">c</a>', '<a href="D.PDF#x">d</a>',
    '<a href="#top">t</a><a href="?page=2">p</a>', '<base href="http://127.0.0.1/files/x.doc"><a href="">e</a>',
    '<a href="e.xl&#115;">f</a>', '<a href="f.zip?x=1">g</a>', '<a href="g.rar/">h</a>', '<a href=" h.wps ">i</a>',
    '<a href="i.docx;v=1">j</a>', '<a href="../up/j.XLSX">k</a>', '<a href="k.ht&amp;ml">l</a>',
    '<a href="mailto:x@y.pdf">m</a>', '<a href="l.p&#100f">n</a>', '<a href="m.pdf.html">o</a>',
    # list shapes for the links' dates: text-node dates, comments, several links per parent, titles, paging
    '<div><a href="/a/1.html">一</a> 2024-05-01 <a href="/a/2.html">二</a><!-- 2024-05-02 --><span>2024-05-03</span></div>',
    '<ul><li><a href="/b/1.html" title="长标题长标题">短</a><em>2023年4月5日</em></li><li><a href="/b/2.html">无日期</a></li></ul>',
    '<p><a href="/c/1.html">c</a><?pi 2022-01-01?><b>x</b><i>2022-01-02</i></p><a href="/c/2.html">下一页</a>',
    '<table><tr><td><a href="/d/1.html">d1</a></td><td>2021-12-31</td></tr></table><a href="/d/2.html#x">&gt;</a>',
    '<a href="/e/1.html"><span>嵌套</span> 链接 </a>2020-02-02<a href="/e/1.html#dup">重复</a><a href="next.html">next page</a>',
]


def odd_link_pages():
    for i, links in enumerate(ODD_LINKS):
        html = f"<html><head><title>t</title></head><body><p>正文</p>{links}</body></html>"
        yield f"odd-links:{i}", f"http://127.0.0.1/news/{i}/page.html", html.encode("utf-8")


def attempt(compute, *args):
    """``compute(*args)``, or the exception it raised (a crash is an output too)."""
    try:
        return compute(*args)
    except Exception as exc:  # noqa: BLE001
        return {"raised": f"{type(exc).__name__}: {exc}"}


def crawl_section(raw_pages) -> dict:
    from scrapy.http import HtmlResponse, Request

    from crawler.encoding import decode_page
    from crawler.middlewares import CHARSET, challenge_reason
    from crawler.sniff import binary_reason
    from spiders import base, generic

    spider = generic.GenericSpider(url="http://127.0.0.1/news/list.html")
    out = {}
    for label, url, body in raw_pages:
        content_type = "text/html; charset=utf-8"
        declared = CHARSET.search(content_type)
        text, encoding = decode_page(body, declared.group(1))
        request = Request(url)
        response = HtmlResponse(url, body=body, encoding=encoding, headers={"Content-Type": content_type},
                                request=request)
        out[label] = {
            "binary": binary_reason(body),
            "encoding": encoding,
            "text_sha": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            "challenge": challenge_reason(200, response.headers, body),
            "links": attempt(lambda r: [(link.url, link.title, link.date) for link in base.links(r)], response),
            "next": attempt(base.next_links, response),
            "articles": attempt(lambda r: [(link.url, link.title, link.date) for link in generic.article_links(r)],
                                response),
            "attachments": attempt(lambda r: [dict(item) for item in spider.attachments(r)], response),
        }
    out["warc"] = warc_records(raw_pages)
    rng = random.Random(8)
    sniffed = []
    for i in range(400):
        size = rng.choice((0, 1, 10, 100, 4095, 4096, 4097, 9000))
        share = rng.choice((0.0, 0.01, 0.02, 0.03, 0.2, 1.0))
        blob = bytes(rng.randrange(1, 32) if rng.random() < share else rng.randrange(32, 256) for _ in range(size))
        sniffed.append(binary_reason(blob))
        sniffed.append(decode_page(blob, rng.choice((None, "gbk", "utf-8", "latin-1")))[1])
    out["random-bytes"] = sniffed
    return out


def warc_records(raw_pages) -> list:
    """What WarcMiddleware writes for each page, read back; record ids and dates (new each run) left out."""
    import tempfile

    from scrapy.http import HtmlResponse, Request
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    from crawler.middlewares import WarcMiddleware

    volatile = {"WARC-Record-ID", "WARC-Date", "WARC-Concurrent-To"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "eq.warc.gz"
        warc = WarcMiddleware.__new__(WarcMiddleware)
        warc.handle = open(path, "wb")
        warc.writer, warc.name = WARCWriter(warc.handle, gzip=True), path.name
        digests = []
        for _, url, body in raw_pages:
            request = Request(url, headers={"User-Agent": "qsnews-eq"})
            response = HtmlResponse(url, body=body, headers={"Content-Type": "text/html; charset=utf-8",
                                                             "ETag": '"x"'}, request=request)
            _, digest, _ = warc.record(request, response)  # offsets vary with the compressed random ids
            digests.append(digest)
        warc.handle.close()
        out = []
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                out.append({
                    "type": record.rec_type,
                    "headers": [(k, v) for k, v in record.rec_headers.headers if k not in volatile],
                    "http": record.http_headers.headers if record.http_headers else None,
                    "status": record.http_headers.statusline if record.http_headers else None,
                    "payload": hashlib.sha256(record.content_stream().read()).hexdigest(),
                })
    return [digests, out]


def clusters_section(records: dict) -> dict:
    """Cluster every record with a body in a scratch archive, update a tenth of them, then rebuild."""
    from archive import cluster_rebuild, clusters

    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript("""
        CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT, kind TEXT);
        CREATE TABLE articles (id INTEGER PRIMARY KEY, source_id INTEGER, source_name TEXT, published_at TEXT,
                               body TEXT, body_simplified TEXT);
        INSERT INTO sources VALUES (1, 'bureau', 'bureau'), (2, 'portal', 'portal'), (3, 'mirror', 'mirror');
    """)
    rng = random.Random(5)
    rows = [r for _, r in sorted(records.items()) if r.get("body")]
    reprints = [dict(r, body="本报讯 " + r["body"], body_simplified="本报讯 " + r["body_simplified"])
                for r in rng.sample(rows, min(60, len(rows)))]
    order = []
    for record in rows + reprints:
        cur = conn.execute("INSERT INTO articles (source_id, source_name, published_at, body, body_simplified)"
                           " VALUES (?, ?, ?, ?, ?)", (rng.randint(1, 3), record.get("source_name"),
                                                       record.get("published_at"), record["body"],
                                                       record["body_simplified"]))
        order.append(clusters.assign_cluster(conn, cur.lastrowid))
    for article_id in range(1, len(order) + 1, 10):
        conn.execute("UPDATE articles SET body = substr(body, 1, length(body) / 2),"
                     " body_simplified = substr(body_simplified, 1, length(body_simplified) / 2) WHERE id = ?",
                     (article_id,))
        order.append(clusters.assign_cluster(conn, article_id))

    def state():
        return {
            "articles": conn.execute("SELECT id, cluster_id FROM articles ORDER BY id").fetchall(),
            "clusters": conn.execute("SELECT * FROM clusters ORDER BY id").fetchall(),
            "minhash": [(a, n, sig.hex()) for a, n, sig in
                        conn.execute("SELECT article_id, shingles, signature FROM article_minhash ORDER BY article_id")],
            "samples": hashlib.sha256(repr(conn.execute(
                "SELECT article_id, hex(sample) FROM article_minhash ORDER BY article_id").fetchall()).encode()).hexdigest(),
            "bands": hashlib.sha256(repr(conn.execute(
                "SELECT band, hex(bucket), article_id FROM lsh_bands ORDER BY 1, 2, 3").fetchall()).encode()).hexdigest(),
        }
    incremental = state()
    count = cluster_rebuild.rebuild(conn)
    return {"assigned": order, "incremental": incremental, "rebuilt": state(), "count": count}


def dump(args) -> None:
    from crawler.encoding import decode_page
    from pipelines.maintext import html_to_document

    fixtures = list(fixture_pages())
    decoded = [(label, url, decode_page(raw)[0]) for label, url, raw in fixtures]
    benchmarks = list(benchmark_pages(Path(args.benchmarks)))
    articles, lists = throughput_pages(args.pages)
    seeds = [(f"seed:{p.name}", p.read_text(encoding="utf-8")) for p in sorted((FIXTURES / "seeds").glob("*.txt"))]
    print(f"{len(decoded)} fixture pages, {len(benchmarks)} benchmark pages, {len(articles)} throughput articles, "
          f"{len(seeds)} seed texts", file=sys.stderr)

    records = records_section(decoded + benchmarks, [(l, u, b.decode("utf-8"), h) for l, u, b, h in articles], seeds)
    texts = [p.text for _, url, html in decoded + benchmarks + [(l, u, b.decode("utf-8")) for l, u, b, _ in articles]
             for p in html_to_document(html, url).paragraphs]
    texts += [line for _, text in seeds for line in text.splitlines() if line.strip()]
    result = {
        "records": records,
        "units": units_section(texts),
        "crawl": crawl_section(fixtures + [(l, u, b) for l, u, b, _ in articles] + lists + list(odd_link_pages())),
        "clusters": clusters_section(records),
    }
    blob = {name: json.dumps(section, ensure_ascii=False, sort_keys=True, default=repr)
            for name, section in result.items()}
    Path(args.out).write_text(json.dumps(blob, ensure_ascii=False, indent=0), encoding="utf-8")
    for name, text in blob.items():
        print(f"{name:9} {hashlib.sha256(text.encode()).hexdigest()[:16]} ({len(text):,} chars)")


def compare(args) -> int:
    before = json.loads(Path(args.before).read_text(encoding="utf-8"))
    after = json.loads(Path(args.after).read_text(encoding="utf-8"))
    bad = 0
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            print(f"{name:9} identical")
            continue
        bad += 1
        old, new = json.loads(before.get(name) or "null"), json.loads(after.get(name) or "null")
        if isinstance(old, dict) and isinstance(new, dict):
            keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            print(f"{name:9} DIFFERS in {len(keys)} entries, e.g. {keys[:5]}")
        elif isinstance(old, list) and isinstance(new, list):
            rows = [i for i in range(max(len(old), len(new))) if i >= len(old) or i >= len(new) or old[i] != new[i]]
            print(f"{name:9} DIFFERS in {len(rows)} rows, e.g. {rows[:5]}")
        else:
            print(f"{name:9} DIFFERS")
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out")
    d.add_argument("--pages", type=int, default=500, help="throughput-bench article pages")
    d.add_argument("--benchmarks", default=str(REPO.parent / "shared" / "benchmarks"))
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
