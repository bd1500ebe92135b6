#!/usr/bin/env python3
"""Main-text extraction benchmark: qsnews side by side with trafilatura and readability-lxml.

Runs every extractor over the Chinese magic-html-zh set and the English
scrapinghub set, writes one PRED json per (set, extractor) to a temp dir, scores
it with the shared scorer (``tools/score_extraction.py``: character-bigram F1) and
prints body F1 and pages/s; for qsnews also title/date/author accuracy on
magic-html-zh/metadata.json (date and author with ``tools/score_metadata.py``).

qsnews is ``pipelines.chain.extract_html(html, url)`` when the cleaning chain
exists; otherwise the body paragraphs of ``pipelines.maintext.html_to_document``
minus the header lines (tag h1/meta-line) the metadata step would remove.  The
table says which one ran.  The peers are benchmark-only extras (pip extra
``bench``) and are skipped with a note when not installed.

usage: python bench/extraction.py [--limit N] [--benchmarks DIR] [--only NAME] [--repeat N] [--pred-dir DIR]
                                 [--per-page]
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib.util
import json
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SETS = {  # name -> (folder, gold body key)
    "magic-html-zh": ("magic-html-zh", "content"),
    "scrapinghub": ("scrapinghub-article-extraction", "articleBody"),
}


def load_tool(benchmarks: Path, name: str):
    """Import one of the shared scoring scripts (they live outside the repo, next to the data)."""
    path = benchmarks.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_set(benchmarks: Path, name: str, limit: int | None):
    """(id, url, html) for each page of a set, in gold order, plus the gold dict."""
    folder, _ = SETS[name]
    root = benchmarks / folder
    gold = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(gold)[:limit] if limit else sorted(gold)
    pages = []
    for page_id in ids:
        plain, packed = root / "html" / f"{page_id}.html", root / "html" / f"{page_id}.html.gz"
        raw = plain.read_bytes() if plain.exists() else gzip.decompress(packed.read_bytes())
        pages.append((page_id, gold[page_id].get("url"), raw.decode("utf-8", errors="replace")))
    return pages, {i: gold[i] for i in ids}


def maintext_only(html, url):
    """The HTML stage alone: body paragraphs minus the header/credit lines the metadata step removes."""
    from pipelines.maintext import html_to_document

    doc = html_to_document(html, url)
    body = [p.text for p in doc.body() if p.tag not in ("h1", "meta-line")]
    headline = next((p.text for p in doc.paragraphs if p.tag == "h1"), None)
    return {"body": "\n".join(body), "title": headline or doc.page_meta.get("title")}


def qsnews_extractors():
    """The product path (the whole cleaning chain when it exists) and, beside it, the HTML stage alone,
    so the table shows what each part costs or gains; plus a note saying which ran."""
    try:
        from pipelines.chain import extract_html
    except ImportError:
        return {"qsnews": maintext_only}, "qsnews = maintext only (pipelines.chain missing)"
    chain = {"qsnews": lambda html, url: extract_html(html, url), "qsnews-maintext": maintext_only}
    return chain, "qsnews = pipelines.chain.extract_html; qsnews-maintext = pipelines.maintext alone"


def peer_extractors():
    peers, missing = {}, []
    try:
        import trafilatura

        peers["trafilatura"] = lambda html, url: {"body": trafilatura.extract(html, url=url) or ""}
    except ImportError:
        missing.append("trafilatura")
    try:
        from readability import Document as Readable
        import lxml.html

        def readable(html, url):
            summary = Readable(html, url=url).summary(html_partial=True)
            return {"body": lxml.html.fromstring(summary).text_content() if summary.strip() else ""}
        peers["readability-lxml"] = readable
    except ImportError:
        missing.append("readability-lxml")
    return peers, missing


def run(extract, pages, repeat: int = 1):
    """Records per page id, whole-run pages per second and the error count (errors give empty output).

    One untimed call first, so lazy imports and caches inside an extractor are not billed to the set;
    with ``repeat`` > 1 the fastest pass counts (the usual guard against a busy machine)."""
    with contextlib.suppress(Exception):  # a crash here is counted below, on the timed passes
        _, url, html = pages[0]
        extract(html, url)
    best = float("inf")
    for _ in range(max(1, repeat)):
        out, errors = {}, 0
        started = time.perf_counter()
        for page_id, url, html in pages:
            try:
                out[page_id] = extract(html, url) or {}
            except Exception:  # a peer crashing on one page must not stop the benchmark
                out[page_id], errors = {}, errors + 1
        best = min(best, time.perf_counter() - started)
    return out, len(pages) / max(best, 1e-9), errors


def body_f1(scorer, records, gold, tmp: Path, label: str, per_page: bool):
    pred = {i: {"articleBody": r.get("body") or ""} for i, r in records.items()}
    path = tmp / f"{label}.json"
    path.write_text(json.dumps(pred, ensure_ascii=False), encoding="utf-8")
    rows, precision, recall, f1, _ = scorer.score(json.loads(path.read_text(encoding="utf-8")), gold)
    if per_page:
        for page_id, p, r, f in sorted(rows, key=lambda row: row[3])[:15]:
            print(f"    {label}: {f:.3f} P={p:.3f} R={r:.3f} {page_id[:12]}")
    return precision, recall, f1


def fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def metadata_accuracy(benchmarks: Path, records: dict):
    """Title (exact after NFKC/whitespace folding), date and author accuracy on magic-html-zh."""
    scorer = load_tool(benchmarks, "score_metadata")
    labels = json.loads((benchmarks / "magic-html-zh" / "metadata.json").read_text(encoding="utf-8"))
    labels = {i: v for i, v in labels.items() if i in records}
    pred = {i: {"published": _blank(r.get("published_at") or r.get("published_raw")),
                "author": _blank(r.get("author"))} for i, r in records.items()}
    dates = {i: {"articleBody": v["published"]} for i, v in labels.items()}
    authors = {i: {"articleBody": v["author"]} for i, v in labels.items()}
    date_ok = sum(scorer.date_ok(pred[i]["published"], dates[i]["articleBody"]) for i in labels)
    author_ok = sum(scorer.author_ok(pred[i]["author"], authors[i]["articleBody"]) for i in labels)
    title_ok = sum(fold(records[i].get("title")) == fold(v["title"]) for i, v in labels.items())
    chained = "published_at" in next(iter(records.values()), {})
    n = len(labels) or 1
    return title_ok / n, (date_ok / n if chained else None), (author_ok / n if chained else None)


def _blank(value):
    return value if value not in (None, "UNKNOWN") else ""


def main(argv=None):
    args = parse_args(argv)
    benchmarks = Path(args.benchmarks).resolve()
    scorer = load_tool(benchmarks, "score_extraction")
    ours, label = qsnews_extractors()
    peers, missing = peer_extractors()
    extractors = {**ours, **peers}
    if args.only:
        extractors = {k: v for k, v in extractors.items() if k == args.only}
    print(label + (f"; not installed: {', '.join(missing)}" if missing else ""))
    print(f"{'set':<15} {'extractor':<18} {'P':>6} {'R':>6} {'F1':>6} {'pages/s':>8} errors")
    with tempfile.TemporaryDirectory(prefix="qsnews-bench-") as tmpdir:
        tmp = Path(args.pred_dir or tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        for set_name in SETS:
            pages, gold = load_set(benchmarks, set_name, args.limit)
            for name, extract in extractors.items():
                records, speed, errors = run(extract, pages, args.repeat)
                p, r, f1 = body_f1(scorer, records, gold, tmp, f"{set_name}-{name}", args.per_page)
                print(f"{set_name:<15} {name:<18} {p:6.3f} {r:6.3f} {f1:6.3f} {speed:8.1f} {errors}")
                if set_name == "magic-html-zh" and name == "qsnews":
                    meta = metadata_accuracy(benchmarks, records)
            if set_name == "magic-html-zh" and "qsnews" in extractors:
                print(f"{'':<15} qsnews metadata   " + "  ".join(
                    f"{k}={'n/a (needs pipelines.chain)' if v is None else f'{v:.3f}'}"
                    for k, v in zip(("title", "date", "author"), meta)))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N pages of each set")
    parser.add_argument("--benchmarks", default=str(REPO.parent / "shared" / "benchmarks"),
                        help="folder holding magic-html-zh/ and scrapinghub-article-extraction/")
    parser.add_argument("--only", help="run one extractor (qsnews, qsnews-maintext, trafilatura, readability-lxml)")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes per extractor; the fastest counts")
    parser.add_argument("--pred-dir", help="keep the PRED json files here (rescore with tools/score_extraction.py)")
    parser.add_argument("--per-page", action="store_true", help="show each extractor's 15 worst pages")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
