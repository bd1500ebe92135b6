"""Malformed pages: a generated corpus crawled end to end must never crash the crawl.

The corpus is generated here from a fixed seed (so a failure reproduces) and
served on loopback as three ordinary generic sites; ``qsnews crawl`` runs on
them as on any registry.  Every article URL must end in ``pages`` as an
article, or as skipped/error with a reason; nothing may be lost silently.

Kinds: random binary, truncated pages (cut mid-tag or mid-character), wrong
charset (GBK declared UTF-8 and the reverse, an unknown charset name), absent
charset (no header, no meta), 20 MB pages (only two of them: a download over
DOWNLOAD_MAXSIZE is refused, the rest of the corpus keeps the test fast),
10,000-deep nesting, empty bodies, pages of images only, an image served as
a page, invalid UTF-8, NUL bytes, UTF-16 without a BOM, unclosed comments,
and well-formed pages as a control that must come out as articles.
"""
import json
import random

import pytest

from loopback import Page, Site, article_page, crawl_settings, list_pages, query, registry, run

SEED = 20241121
PER_KIND = 80
HOSTS = ["bad1.example.gov.cn", "bad2.example.gov.cn", "bad3.example.gov.cn"]
SENTENCES = ["市场监管局开展电动自行车产品质量监督抽查，共抽查企业十二家。", "抽查发现三批次产品不合格，已责令企业整改。",
             "特种设备安全检查覆盖全市电梯和锅炉，排查隐患二十处。", "质量技术监督部门将继续加大执法力度，保障消费者权益。"]


def prose(rng: random.Random, n: int = 4) -> list[str]:
    return [rng.choice(SENTENCES) + rng.choice(SENTENCES) for _ in range(n)]


def good(rng, i) -> bytes:
    return article_page(f"质量抽查通报第{i}号", prose(rng))


def binary(rng, i):
    return Page(rng.randbytes(rng.randint(1, 60_000)))


def truncated(rng, i):
    page = good(rng, i)
    return Page(page[:rng.randint(1, len(page) - 1)])


def gbk_declared_utf8(rng, i):
    html = good(rng, i).decode("utf-8")
    return Page(html.encode("gbk"), "text/html; charset=utf-8")


def utf8_declared_gbk(rng, i):
    html = good(rng, i).decode("utf-8").replace('charset="utf-8"', 'charset="gb2312"')
    return Page(html.encode("utf-8"), "text/html; charset=gb2312")


def unknown_charset(rng, i):
    html = good(rng, i).decode("utf-8").replace('charset="utf-8"', 'charset="x-no-such-charset"')
    return Page(html.encode(rng.choice(["utf-8", "gb18030"])), "text/html; charset=x-no-such-charset")


def absent_charset(rng, i):
    html = good(rng, i).decode("utf-8").replace('<meta charset="utf-8">', "")
    return Page(html.encode("gbk"), rng.choice(["text/html", None]))


def huge(rng, i):
    paragraph = ("<p>" + rng.choice(SENTENCES) * 3 + "</p>\n").encode("utf-8")
    return Page(b"<html><body>" + paragraph * (20_000_000 // len(paragraph)) + b"</body></html>")


def deep(rng, i):
    tag, depth = rng.choice(["div", "span", "table", "b"]), 10_000
    html = f"<html><body>{f'<{tag}>' * depth}{rng.choice(SENTENCES)}{f'</{tag}>' * depth}</body></html>"
    return Page(html.encode("utf-8"))


def empty(rng, i):
    return Page(rng.choice([b"", b" ", b"\r\n\r\n", b"<html></html>", b"<html><body></body></html>"]))


def images_only(rng, i):
    images = "".join(f'<p><img src="/images/{rng.randrange(10**6)}.jpg" alt=""></p>' for _ in range(rng.randint(1, 12)))
    return Page(f'<html><head><meta charset="utf-8"><title>图片新闻</title></head><body>{images}</body></html>'
                .encode("utf-8"))


def image_as_page(rng, i):
    return Page(b"\x89PNG\r\n\x1a\n" + rng.randbytes(5000), rng.choice(["image/png", "text/html"]))


def invalid_utf8(rng, i):
    data = bytearray(good(rng, i))
    for _ in range(rng.randint(1, 40)):
        data.insert(rng.randrange(len(data)), rng.choice([0x80, 0xC0, 0xFF, 0xFE, 0xED]))
    return Page(bytes(data), "text/html; charset=utf-8")


def nul_bytes(rng, i):
    data = bytearray(good(rng, i))
    for _ in range(rng.randint(1, 200)):
        data.insert(rng.randrange(len(data)), 0)
    return Page(bytes(data))


def utf16_no_bom(rng, i):
    return Page(good(rng, i).decode("utf-8").encode("utf-16-le"), "text/html")


def unclosed_comment(rng, i):
    html = good(rng, i).decode("utf-8").replace("<div class=\"content\">", "<!-- <div class=\"content\">")
    return Page(html.encode("utf-8"))


KINDS = {
    "binary": binary, "truncated": truncated, "gbk_declared_utf8": gbk_declared_utf8,
    "utf8_declared_gbk": utf8_declared_gbk, "unknown_charset": unknown_charset, "absent_charset": absent_charset,
    "deep": deep, "empty": empty, "images_only": images_only, "image_as_page": image_as_page,
    "invalid_utf8": invalid_utf8, "nul_bytes": nul_bytes, "utf16_no_bom": utf16_no_bom,
    "unclosed_comment": unclosed_comment,
}
COUNTS = {**{kind: PER_KIND for kind in KINDS}, "huge": 2, "control": 40}


def corpus(seed: int = SEED) -> tuple[dict, dict]:
    """(pages to serve, {article url: kind}) for the three generated sites."""
    rng = random.Random(seed)
    makers = {**KINDS, "huge": huge, "control": lambda r, i: Page(good(r, i))}
    plan = [kind for kind, n in COUNTS.items() for _ in range(n)]
    rng.shuffle(plan)
    pages, kinds, links = {}, {}, {host: [] for host in HOSTS}
    for i, kind in enumerate(plan):
        host = HOSTS[i % len(HOSTS)]
        path = f"/news/20240601/{100000 + i}.html"
        pages[(host, path)] = makers[kind](rng, i)
        kinds[f"http://{host}{path}"] = kind
        links[host].append((path, f"质量监督抽查结果通报第{i}号"))
    for host in HOSTS:
        pages.update(list_pages(host, links[host], per_page=100))
    return pages, kinds


def test_corpus_is_large_and_deterministic():
    pages, kinds = corpus()
    assert len(kinds) >= 1000
    again, _ = corpus()
    assert {k: v.body for k, v in pages.items()} == {k: v.body for k, v in again.items()}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    pages, kinds = corpus()
    tmp = tmp_path_factory.mktemp("bad_input")
    sources = [{"name": f"畸形页面站{n}", "host": host, "start": "/list/index.html", "max_pages": 2000}
               for n, host in enumerate(HOSTS)]
    reg = registry(tmp / "sources.toml", sources)
    db = tmp / "qsnews.db"
    with Site(pages) as site:
        result = run("crawl", "--all", "--registry", reg, "--db", db, *crawl_settings(site), timeout=300)
    return db, kinds, result


def test_crawl_finishes_without_a_crash(crawled):
    db, _, result = crawled
    assert result.returncode in (0, 3), result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    runs = query(db, "select status from crawl_runs")
    assert len(runs) == len(HOSTS) and all(r["status"] in ("ok", "partial") for r in runs)
    logs = "".join(p.read_text(errors="replace") for p in (db.parent / "logs").glob("*.log"))
    assert "Traceback" not in logs, logs[logs.find("Traceback") - 500:][:3000]


def test_every_page_is_archived_or_rejected_with_a_reason(crawled):
    db, kinds, _ = crawled
    rows = {r["url"]: r for r in query(db, "select url, outcome, reason from pages")}
    missing = [url for url in kinds if url not in rows]
    assert not missing, f"{len(missing)} pages never reached the archive, e.g. {missing[:3]}"
    for url, kind in kinds.items():
        row = rows[url]
        assert row["outcome"] in ("article", "skipped", "error"), (kind, row)
        if row["outcome"] != "article":
            assert row["reason"], (kind, row)


def test_well_formed_pages_come_out_as_articles(crawled):
    db, kinds, _ = crawled
    outcome = {r["url"]: r["outcome"] for r in query(db, "select url, outcome from pages")}
    for kind in ("control", "gbk_declared_utf8", "utf8_declared_gbk", "absent_charset", "nul_bytes"):
        urls = [url for url, k in kinds.items() if k == kind]
        assert all(outcome[u] == "article" for u in urls), (kind, [outcome[u] for u in urls][:10])


def test_huge_pages_are_refused_with_their_size(crawled):
    db, kinds, _ = crawled
    for url in (u for u, k in kinds.items() if k == "huge"):
        [row] = query(db, "select outcome, reason from pages where url = ?", url)
        assert row["outcome"] == "error" and "max size" in row["reason"]


def test_articles_hold_only_text(crawled):
    """No article keeps NUL bytes, replacement runs from binary noise, or an empty body."""
    db, kinds, _ = crawled
    articles = query(db, "select url, body, title from articles")
    assert articles
    for a in articles:
        assert a["body"].strip() and "\x00" not in a["body"] and "\x00" not in (a["title"] or "")
        assert kinds[a["url"]] not in ("binary", "empty", "images_only", "image_as_page", "huge"), a["url"]
    assert query(db, "pragma integrity_check")[0]["integrity_check"] == "ok"


def test_extract_takes_the_whole_corpus_in_one_call(tmp_path):
    """`qsnews extract` (saved pages, no crawl) answers every input with a record or a one-line error."""
    pages, kinds = corpus()
    files = []
    for n, url in enumerate(url for url, kind in kinds.items() if kind != "huge"):
        host, path = url.split("/", 3)[2], "/" + url.split("/", 3)[3]
        files.append(tmp_path / f"{n:04d}.html")
        files[-1].write_bytes(pages[(host, path)].body)
    result = run("extract", "--json", *files, timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["input"] for line in lines] == [str(f) for f in files]
    assert all("paragraphs" in line or line.get("error") for line in lines)
