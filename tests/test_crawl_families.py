"""`qsnews crawl --url` against loopback sites of each CMS family the spiders have never seen.

The sites under tests/fixtures/sites/<family>/127.0.0.1/ are not the demo
sites: other page structures, other texts, and the hard cases — GBK pages, a
two-page article, Hanweb records paged by POST to dataproxy.jsp, a truncated
article, dead links, attachments, a robots.txt-disallowed article, a calendar
trap and a host answering 412 challenges.  Each is served by
crawler.demo_server on 127.0.0.1 (the URL's host is the loopback address
itself, so there is no host map), and the real command line crawls it twice
into a fresh archive: every article once, nothing else as an article, and the
second run fetches no article page again.
"""
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo_server import DemoServer
from spiders import detect_family
from loopback import query as rows

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "tests" / "fixtures" / "sites"
# Loopback sites answer at once; the safety guard refuses loopback targets unless told this is a test.
SETTINGS = ("QSNEWS_ALLOW_LOOPBACK=1", "DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=0", "QSNEWS_RETRY_BACKOFF_BASE=0")


@dataclass
class Site:
    start: str
    articles: set
    lists: set
    exit_code: int = 0
    parts: set = field(default_factory=set)  # continuation pages of multi-page articles
    attachments: set = field(default_factory=set)
    dead: set = field(default_factory=set)
    robots: set = field(default_factory=set)
    trap: str = "\0"  # the path of an endless calendar reached through a next-page link


HW = "/art/2024/{}/art_3021_{}.html"
PROXY = "/module/web/jpage/dataproxy.jsp?startrecord={}&endrecord={}&perpage=2"
FAMILIES = {
    "trs": Site(
        start="/xxgk/gzdt/index.html",
        articles={"/xxgk/gzdt/202406/t20240614_4470125.html", "/xxgk/gzdt/202406/t20240605_4465310.html",
                  "/xxgk/gzdt/202405/t20240522_4451187.html", "/xxgk/gzdt/202405/t20240509_4440362.html"},
        parts={"/xxgk/gzdt/202406/t20240614_4470125_1.html"},
        lists={"/xxgk/gzdt/index.html", "/xxgk/gzdt/index_1.html"},
        attachments={"/xxgk/gzdt/202406/P020240610573392841204.xls", "/xxgk/gzdt/202405/P020240509338104522371.doc"},
        dead={"/xxgk/gzdt/202405/t20240515_4446001.html"},
        robots={"/nbgl/202406/t20240601_4460001.html"},
        exit_code=3,  # the dead link is an error: the run is partial
    ),
    "hanweb": Site(
        start="/col/col3021/index.html",
        articles={HW.format("6/18", 2207461), HW.format("6/11", 2205318), HW.format("5/30", 2201774),
                  HW.format("5/24", 2199025), HW.format("5/8", 2193118)},
        lists={"/col/col3021/index.html", PROXY.format(3, 4), PROXY.format(5, 6)},
        attachments={"/module/download/2406/P020240618377015280713.pdf"},
        dead={HW.format("5/17", 2196340)},
        exit_code=3,
    ),
    "portal": Site(
        start="/zlxw/node_2207.htm",
        articles={"/zlxw/content/2024-06/12/content_881204.htm", "/zlxw/content/2024-06/03/content_879561.htm",
                  "/zlxw/content/2024-05/21/content_876013.htm"},
        lists={"/zlxw/node_2207.htm", "/zlxw/node_2207_2.htm"},
        attachments={"/download/2024zlyfa.doc"},
    ),
    "generic": Site(
        start="/news/list.html",
        articles={"/news/2024/0612/8f2a1c9e.html", "/news/2024/0604/c41d07b2.html", "/news/2024/0528/3b7d90fa.html"},
        lists={"/news/list.html", "/news/list_2.html"},
        robots={"/news/neibu/2024/0601/5c1e77ab.html"},
        trap="/news/rili.html",
    ),
}


def qsnews_crawl(base: str, path: str, db: Path, *options: str) -> subprocess.CompletedProcess:
    """The real command line; anything not on the loopback server goes to a dead proxy, not the network."""
    command = [sys.executable, "-m", "crawler.cli", "crawl", "--url", base + path, "--db", str(db), *options]
    for setting in SETTINGS:
        command += ["-s", setting]
    env = {**os.environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "no_proxy": "127.0.0.1", "QSNEWS_DB": str(db)}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result



def warc_records(files, kind: str):
    for warc in files:
        with open(warc, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == kind:
                    yield record, record.content_stream().read()


class Crawled:
    """Two identical crawls of one fixture site into one archive, and what each left behind."""

    def __init__(self, family: str, workdir: Path):
        self.site, self.db = FAMILIES[family], workdir / "qsnews.db"
        with DemoServer(root=SITES / family) as port:
            self.base = f"http://127.0.0.1:{port}"
            self.first = qsnews_crawl(self.base, self.site.start, self.db)
            self.pages_first = {r["url"]: r for r in rows(self.db, "select * from pages")}
            self.warc_first = set((workdir / "warc").glob("*.warc.gz"))
            self.second = qsnews_crawl(self.base, self.site.start, self.db)
            self.pages_second = {r["url"]: r for r in rows(self.db, "select * from pages")}
            self.warc_second = set((workdir / "warc").glob("*.warc.gz")) - self.warc_first

    def urls(self, paths) -> set:
        return {self.base + path for path in paths}

    def outcome(self, outcome: str, pages=None) -> set:
        return {url for url, row in (pages or self.pages_first).items() if row["outcome"] == outcome}

    def fetched(self, files) -> list[str]:
        return [r.rec_headers.get_header("WARC-Target-URI") for r, _ in warc_records(files, "response")]


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    """crawls(family) -> Crawled; each family's two runs happen once per module."""
    done = {}

    def get(family):
        if family not in done:
            done[family] = Crawled(family, tmp_path_factory.mktemp(family))
        return done[family]
    return get


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_article_is_archived_once_and_nothing_else(crawls, family):
    crawled, site = crawls(family), FAMILIES[family]
    assert crawled.first.returncode == site.exit_code, crawled.first.stdout + crawled.first.stderr[-2000:]
    articles = rows(crawled.db, "select url, title, body from articles")
    assert sorted(a["url"] for a in articles) == sorted(crawled.urls(site.articles))
    assert all(a["title"] and a["body"] for a in articles)
    assert crawled.outcome("article") == crawled.urls(site.articles | site.parts)
    assert {url for url in crawled.outcome("list") if site.trap not in url} == crawled.urls(site.lists)
    assert crawled.outcome("attachment") == crawled.urls(site.attachments)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_attachments_dead_links_and_robots_disallowed_pages(crawls, family):
    crawled, site = crawls(family), FAMILIES[family]
    fetched = crawled.fetched(crawled.warc_first)
    assert not crawled.urls(site.attachments) & set(fetched)  # recorded, never downloaded
    errors = {url: row["reason"] for url, row in crawled.pages_first.items() if row["outcome"] == "error"}
    assert errors == {url: "HTTP 404 Not Found" for url in crawled.urls(site.dead)}
    for url in crawled.urls(site.robots):
        assert crawled.pages_first[url]["outcome"] == "skipped" and "robots.txt" in crawled.pages_first[url]["reason"]
        assert url not in fetched
    assert len(fetched) == len(set(fetched))  # no page fetched twice in one run


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_second_run_fetches_no_article_page_again(crawls, family):
    crawled, site = crawls(family), FAMILIES[family]
    assert crawled.second.returncode == 0, crawled.second.stdout + crawled.second.stderr[-2000:]
    article_pages = crawled.urls(site.articles | site.parts)
    assert not article_pages & set(crawled.fetched(crawled.warc_second))
    for url in article_pages:
        assert crawled.pages_second[url]["fetched_at"] == crawled.pages_first[url]["fetched_at"]
    [run] = rows(crawled.db, "select * from crawl_runs where id = (select max(id) from crawl_runs)")
    assert run["new_articles"] == 0 and run["status"] == "ok"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_an_unchanged_list_page_is_asked_conditionally_and_its_304_ends_paging(crawls, family):
    crawled = crawls(family)
    start = crawled.base + FAMILIES[family].start
    first, again = crawled.pages_first[start], crawled.pages_second[start]
    assert first["http_status"] == 200 and first["etag"] and first["last_modified"]
    [(request, _)] = [(r, b) for r, b in warc_records(crawled.warc_second, "request")
                      if r.rec_headers.get_header("WARC-Target-URI") == start]
    assert request.http_headers.get_header("If-None-Match") == first["etag"]
    assert again["http_status"] == 304 and again["outcome"] == "list" and "not modified" in again["reason"]
    assert again["etag"] == first["etag"]
    assert [url for url in crawled.fetched(crawled.warc_second) if not url.endswith("/robots.txt")] == [start]


@pytest.mark.parametrize("family, path, url_says", [
    ("trs", "xxgk/gzdt/index.html", "generic"),
    ("hanweb", "col/col3021/index.html", "hanweb"),
    ("portal", "zlxw/node_2207.htm", "portal"),
    ("generic", "news/list.html", "generic"),
])
def test_the_family_is_detected_from_the_first_page(family, path, url_says):
    from spiders import detect_family_from_url

    data = (SITES / family / "127.0.0.1" / path).read_bytes()
    html = data.decode("gb18030") if b"charset=gb" in data[:300] else data.decode("utf-8")
    assert detect_family_from_url(f"http://127.0.0.1/{path}") == url_says
    assert detect_family(html, "http://127.0.0.1/column/list.htm") == family


# ---------------------------------------------------------------- family specifics
def test_trs_gbk_two_page_article_is_one_article(crawls):
    crawled = crawls("trs")
    url = crawled.base + "/xxgk/gzdt/202406/t20240614_4470125.html"
    [article] = rows(crawled.db, "select * from articles where url = ?", url)
    assert article["title"] == "抚州市开展燃气灶具产品质量专项抽查"
    assert "熄火保护装置" in article["body"] and "连接软管" in article["body"]  # page 1 and page 2
    encodings = {row["encoding"] for url, row in crawled.pages_first.items() if row["outcome"] in ("article", "list")}
    assert encodings == {"gb18030"}


def test_hanweb_pages_its_records_by_post_to_dataproxy(crawls):
    from urllib.parse import parse_qs

    crawled = crawls("hanweb")
    posts = {r.rec_headers.get_header("WARC-Target-URI"): (r.http_headers.protocol, parse_qs(body.decode()))
             for r, body in warc_records(crawled.warc_first, "request") if "dataproxy.jsp" in r.rec_headers.get_header(
                 "WARC-Target-URI")}
    assert set(posts) == crawled.urls({PROXY.format(3, 4), PROXY.format(5, 6)})
    for method, form in posts.values():
        assert method == "POST"
        assert {k: v[0] for k, v in form.items()} == {
            "col": "1", "appid": "1", "webid": "7", "path": "/", "columnid": "3021", "sourceContentType": "1",
            "unitid": "18842", "webname": "嘉兴市市场监督管理局", "permissiontype": "0"}


def test_hanweb_truncated_article_is_archived_with_what_arrived(crawls):
    crawled = crawls("hanweb")
    [article] = rows(crawled.db, "select * from articles where url = ?", crawled.base + HW.format("5/24", 2199025))
    assert article["title"] == "嘉善县召开知识产权保护工作座谈会"
    assert "18家高新技术企业" in article["body"]  # the first paragraph; the page ends inside the second


def test_since_skips_older_articles_and_stops_paging_at_an_older_list_page(tmp_path):
    db = tmp_path / "since.db"
    with DemoServer(root=SITES / "hanweb") as port:
        base = f"http://127.0.0.1:{port}"
        result = qsnews_crawl(base, FAMILIES["hanweb"].start, db, "--since", "2024-06-01")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert {r["url"] for r in rows(db, "select url from articles")} == {
        base + HW.format("6/18", 2207461), base + HW.format("6/11", 2205318)}
    pages = {r["url"] for r in rows(db, "select url from pages")}
    assert base + PROXY.format(3, 4) in pages and base + PROXY.format(5, 6) not in pages
    assert not any("/art/2024/5/" in url for url in pages)


def test_generic_calendar_trap_ends_at_its_first_day_and_gbk_article_is_decoded(crawls):
    crawled = crawls("generic")
    calendar = [url for url in crawled.fetched(crawled.warc_first) if FAMILIES["generic"].trap in url]
    assert calendar == [crawled.base + "/news/rili.html?date=2024-05-01"]  # nothing listed there: paging stops
    [article] = rows(crawled.db, "select * from articles where url = ?", crawled.base + "/news/2024/0612/8f2a1c9e.html")
    assert "眼镜店57家" in article["body"] and crawled.pages_first[article["url"]]["encoding"] == "gb18030"


def test_challenged_site_is_blocked_then_left_alone_until_the_cool_down_passes(tmp_path):
    db, warc = tmp_path / "qsnews.db", tmp_path / "warc"
    with DemoServer(root=SITES / "challenge") as port:
        base = f"http://127.0.0.1:{port}"
        first = qsnews_crawl(base, "/xwzx/tzgg/index.html", db)
        written = set(warc.glob("*.warc.gz"))
        again = qsnews_crawl(base, "/xwzx/tzgg/index.html", db)
        skipped_writes = set(warc.glob("*.warc.gz")) - written
        forced = qsnews_crawl(base, "/xwzx/tzgg/index.html", db, "--force")
    assert first.returncode == 3 and not rows(db, "select id from articles")
    [source] = rows(db, "select * from sources")
    assert source["status"] == "blocked" and source["name"] == f"127.0.0.1:{port}"
    assert {r["outcome"] for r in rows(db, "select outcome from pages")} == {"blocked"}
    assert again.returncode == 3 and "skipped-blocked" in again.stdout and not skipped_writes
    assert forced.returncode == 3
    statuses = [r["status"] for r in rows(db, "select status from crawl_runs order by id")]
    assert statuses == ["blocked", "skipped-blocked", "blocked"]


def test_the_cool_down_ends_after_its_hours():
    from datetime import datetime, timedelta, timezone

    from crawler.crawl import cooling_down

    class Archive:
        def last_blocked_at(self, name):
            return "2026-01-01T00:00:00+00:00" if name == "blocked" else None

    now = datetime(2026, 1, 1, 23, tzinfo=timezone.utc)
    assert cooling_down(Archive(), "blocked", 24, now)
    assert not cooling_down(Archive(), "blocked", 24, now + timedelta(hours=2))
    assert not cooling_down(Archive(), "blocked", 0, now)  # --force
    assert not cooling_down(Archive(), "never blocked", 24, now)
