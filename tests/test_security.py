"""Security: where the crawler may go, what crawled markup can do on our pages, who can write.

* The crawler fetches public http(s) addresses only: no ``file:``, loopback,
  link-local or private targets, whether a start URL or a redirect names them
  (crawler.safety), and stays on the source's domains.
* Crawled text that looks like markup is shown as text on every page
  Datasette serves; the archived raw page is plain text in a CSP sandbox.
* Visitors cannot write through Datasette: no write SQL, no write endpoints,
  and the archive's query connections are opened read-only.
"""
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler.safety import SafetyMiddleware, refusal
from loopback import (Page, Site, article_page, crawl_settings, hooked_env, list_pages, query, registry,
                      serving, run)

HOST = "www.example.gov.cn"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://www.example.gov.cn/a.html", "data:text/html,<p>x</p>", "javascript:alert(1)",
    "http://127.0.0.1/", "http://127.8.9.10:8080/x", "http://127.1/", "http://2130706433/", "http://0x7f000001/",
    "http://0177.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://localhost:8001/",
    "http://LOCALHOST./", "http://admin.localhost/", "http://10.0.0.8/", "http://172.16.3.4/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fd00::1]/", "http://0.0.0.0/",
    "http://100.64.0.1/", "http://[::ffff:10.0.0.1]/", "http:///nohost",
])
def test_unsafe_targets_are_refused(url):
    assert refusal(url) is not None


@pytest.mark.parametrize("url", [
    "http://www.example.gov.cn/a.html", "https://scjg.hubei.gov.cn/xwzx/", "http://8.8.8.8/", "http://[2606:4700::1111]/",
    "http://localhost-news.example.cn/", "http://10.example.cn/",
])
def test_public_targets_pass(url):
    assert refusal(url) is None


def test_loopback_allowance_never_opens_private_networks():
    assert refusal("http://127.0.0.1:8123/", allow_loopback=True) is None
    assert refusal("http://localhost/", allow_loopback=True) is None
    assert refusal("http://192.168.0.1/", allow_loopback=True) is not None
    assert refusal("file:///etc/passwd", allow_loopback=True) is not None


def test_middleware_refuses_a_redirect_and_says_where_from():
    redirected = Request("http://169.254.169.254/latest/meta-data/",
                         meta={"redirect_urls": ["http://www.example.gov.cn/a.html"]})
    with pytest.raises(IgnoreRequest, match=r"link-local.*redirected from http://www\.example\.gov\.cn/a\.html"):
        SafetyMiddleware().process_request(redirected)


def test_middleware_lets_host_mapped_requests_through():
    """The demo's host map sends the request to loopback as a proxy; the URL, which is judged, is the real site."""
    mapped = Request("http://www.cqn.com.cn/zj/node_4595.htm", meta={"proxy": "http://127.0.0.1:8123"})
    assert SafetyMiddleware().process_request(mapped) is None


# -- the real crawl --------------------------------------------------------------------------------------------

SECRET = "内网机密文件不应被抓取"


@pytest.fixture(scope="module")
def redirect_crawl(tmp_path_factory):
    """A site whose articles redirect to a local file, to loopback, to link-local and private addresses."""
    tmp = tmp_path_factory.mktemp("redirects")
    secret_file = tmp / "secret.html"
    secret_file.write_bytes(article_page("机密", [SECRET * 3]))
    pages = {}
    with Site(pages) as site:
        port = site.port
        targets = {
            "file": secret_file.as_uri(),
            "loopback": f"http://127.0.0.1:{port}/secret.html",
            "localhost": f"http://localhost:{port}/secret.html",
            "metadata": "http://169.254.169.254/latest/meta-data/",
            "private": "http://10.255.255.1/secret.html",
            "offsite": "http://www.elsewhere.example.com/news/20240601/1.html",
        }
        links = []
        for n, (name, target) in enumerate(targets.items()):
            path = f"/news/20240601/{20000 + n}.html"
            pages[(HOST, path)] = Page(b"", status=302, headers=(("Location", target),))
            links.append((path, f"跳转测试文章{name}号通报"))
        refresh = f'<html><head><meta http-equiv="refresh" content="0; url=http://127.0.0.1:{port}/secret.html">'
        pages[(HOST, "/news/20240601/20100.html")] = Page((refresh + "</head><body></body></html>").encode())
        links.append(("/news/20240601/20100.html", "跳转测试文章refresh号通报"))
        pages[(HOST, "/news/20240601/20200.html")] = Page(article_page("正常文章", ["市场监管局开展质量抽查工作，合格率九成。"] * 3))
        links.append(("/news/20240601/20200.html", "正常的质量抽查通报文章"))
        pages.update(list_pages(HOST, links, per_page=50))
        pages[("127.0.0.1", "/secret.html")] = pages[("localhost", "/secret.html")] = Page(secret_file.read_bytes())
        reg = registry(tmp / "sources.toml", [{"name": "跳转站", "host": HOST, "start": "/list/index.html"}])
        db = tmp / "qsnews.db"
        only_the_site = json.dumps({HOST: f"127.0.0.1:{port}"})  # 127.0.0.1 and localhost are not mapped
        result = run("crawl", "--all", "--registry", reg, "--db", db, *crawl_settings(site, QSNEWS_HOST_MAP=only_the_site))
        requests = list(site.requests)
    return db, targets, requests, result


def test_redirects_to_unsafe_targets_are_not_followed(redirect_crawl):
    db, _, requests, result = redirect_crawl
    assert result.returncode in (0, 3), result.stderr[-2000:]
    assert ("127.0.0.1", "/secret.html") not in requests and ("localhost", "/secret.html") not in requests
    assert all(host == HOST for host, _ in requests), requests
    texts = " ".join((a["body"] or "") + (a["title"] or "") for a in query(db, "select body, title from articles"))
    assert SECRET not in texts
    warcs = b"".join(p.read_bytes() for p in (db.parent / "warc").glob("*.warc.gz"))
    assert SECRET.encode() not in warcs and b"secret.html" not in warcs.replace(b"secret.html\r\n", b"")


def test_the_normal_article_still_arrives(redirect_crawl):
    db = redirect_crawl[0]
    assert [a["title"] for a in query(db, "select title from articles")] == ["正常文章"]


def test_refused_redirects_are_recorded_with_a_reason(redirect_crawl):
    db = redirect_crawl[0]
    rows = query(db, "select url, outcome, reason from pages where url like '%/2000_.html'")
    assert len(rows) == 6
    assert all(r["outcome"] in ("skipped", "error") and r["reason"] for r in rows), rows


def test_a_private_or_loopback_start_url_is_refused(tmp_path):
    with Site({("127.0.0.1", "/list/index.html"): Page(b"<html><body>list</body></html>")}) as site:
        url = f"http://127.0.0.1:{site.port}/list/index.html"
        refused = run("crawl", "--url", url, "--db", tmp_path / "a.db", "-s", "DOWNLOAD_DELAY=0")
        assert site.requests == [], "the loopback start URL reached the server"
        allowed = run("crawl", "--url", url, "--db", tmp_path / "b.db", "-s", "DOWNLOAD_DELAY=0",
                      "-s", "QSNEWS_ALLOW_LOOPBACK=True")
        assert ("127.0.0.1", "/list/index.html") in site.requests, allowed.stderr[-2000:]
    [row] = query(tmp_path / "a.db", "select outcome, reason from pages")
    assert row["outcome"] == "skipped" and "loopback" in row["reason"], (row, refused.stdout)
    run("crawl", "--url", "http://10.255.255.1/list/index.html", "--db", tmp_path / "c.db", "-s", "DOWNLOAD_DELAY=0",
        "-s", "QSNEWS_ALLOW_LOOPBACK=True", "-s", "DOWNLOAD_TIMEOUT=5")
    [row] = query(tmp_path / "c.db", "select outcome, reason from pages")
    assert row["outcome"] == "skipped" and "private" in row["reason"]


# Loaded by the crawl subprocess (PYTHONPATH): names under .qsnews-test resolve to loopback, as an intranet
# name under an allowed domain or a DNS-rebinding answer would.
RESOLVE_TO_LOOPBACK = """
import socket
_real = socket.gethostbyname
socket.gethostbyname = lambda name: "127.0.0.1" if name.endswith(".qsnews-test") else _real(name)
"""


def test_a_host_name_that_resolves_to_loopback_is_refused(tmp_path):
    env = hooked_env(tmp_path / "hook", RESOLVE_TO_LOOPBACK)
    host = "intranet.qsnews-test"
    with Site({(host, "/list/index.html"): Page(b"<html><body>list</body></html>")}) as site:
        url = f"http://{host}:{site.port}/list/index.html"
        run("crawl", "--url", url, "--db", tmp_path / "a.db", "-s", "DOWNLOAD_DELAY=0", env=env)
        assert site.requests == [], "a name resolving to loopback reached the server"
        allowed = run("crawl", "--url", url, "--db", tmp_path / "b.db", "-s", "DOWNLOAD_DELAY=0",
                      "-s", "QSNEWS_ALLOW_LOOPBACK=True", env=env)
        assert (host, "/list/index.html") in site.requests, allowed.stderr[-2000:]  # the name does resolve
    [row] = query(tmp_path / "a.db", "select outcome, reason from pages where url = ?", url)
    assert row["outcome"] == "skipped" and f"loopback address {host} (127.0.0.1)" in row["reason"], row


# -- what visitors see and can do --------------------------------------------------------------------------------

HOSTILE_TITLE = "<script>alert('title')</script>质量抽查通报"
HOSTILE = ["<img src=x onerror=alert(1)>市场监管局开展质量抽查工作，合格率九成。",
           '<script>alert("body")</script>特种设备安全检查覆盖全市电梯和锅炉。',
           '<a href="javascript:alert(2)">点此</a>质量技术监督部门将继续加大执法力度。']
MARKERS = ("<script>alert", "<img src=x onerror", 'href="javascript:alert', "<a href=\"javascript")


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A crawled archive whose article text is markup, served by `qsnews serve` on loopback."""
    tmp = tmp_path_factory.mktemp("served")
    paragraphs = [escaped(p) for p in HOSTILE]
    html = article_page(escaped(HOSTILE_TITLE), paragraphs).replace(
        b"</body>", b"<script>alert('raw page script')</script></body>")
    pages = {(HOST, "/news/20240601/30000.html"): Page(html)}
    pages.update(list_pages(HOST, [("/news/20240601/30000.html", escaped(HOSTILE_TITLE))], per_page=10))
    db = tmp / "qsnews.db"
    reg = registry(tmp / "sources.toml", [{"name": "<b>恶意</b>站", "host": HOST, "start": "/list/index.html"}])
    with Site(pages) as site:
        result = run("crawl", "--all", "--registry", reg, "--db", db, *crawl_settings(site))
    assert query(db, "select count(*) n from articles")[0]["n"] == 1, result.stdout + result.stderr[-2000:]
    with serving(db) as base:
        yield base, db


def fetch(url, data=None, method=None):
    """(status, headers, body text) without raising on HTTP errors."""
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode("utf-8", "replace")


def test_the_hostile_text_was_archived_as_text(served):
    _, db = served
    [article] = query(db, "select title, body from articles")
    assert article["title"] == HOSTILE_TITLE
    assert all(p in article["body"] for p in ("<img src=x onerror=alert(1)>", '<script>alert("body")</script>'))


@pytest.mark.parametrize("path", [
    "/", "/qsnews", "/qsnews/articles", "/qsnews/articles/1", "/qsnews/paragraphs", "/qsnews/sources",
    "/qsnews/articles?_search=质量抽查", "/-/search?q=质量抽查", "/-/article/1", "/-/charts",
    "/qsnews?sql=select+title,+body+from+articles", "/qsnews/articles?_facet=title",
])
def test_crawled_markup_is_shown_as_text(served, path):
    base, _ = served
    status, headers, body = fetch(base + urllib.parse.quote(path, safe="/?=&+_"))
    if status == 404 and path == "/-/charts":
        pytest.skip("no charts page in this build")
    assert status == 200, (path, status)
    assert "text/html" in headers["Content-Type"]
    found = [m for m in MARKERS if m in body]
    assert not found, (path, found)


def test_the_raw_page_is_plain_text_in_a_sandbox(served):
    base, _ = served
    status, headers, body = fetch(base + "/-/article/1/raw")
    assert status == 200 and "alert('raw page script')" in body
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["Content-Security-Policy"] == "sandbox" and headers["X-Content-Type-Options"] == "nosniff"


WRITE_SQL = [
    "insert into articles (url, title) values ('http://x/1', 'pwned')",
    "update articles set title = 'pwned'",
    "delete from articles",
    "drop table articles",
    "create table pwned (x)",
    "replace into sources (name) values ('pwned')",
    "select 1; delete from articles",
    "with x as (select 1) delete from articles",
    "attach database '/tmp/qsnews-pwned.db' as pwned",
    "pragma writable_schema = 1",
    "vacuum into '/tmp/qsnews-pwned.db'",
    "select load_extension('/tmp/pwned.so')",
    "select writefile('/tmp/qsnews-pwned.txt', 'x')",
]


@pytest.mark.parametrize("sql", WRITE_SQL)
def test_write_sql_is_refused(served, sql):
    base, db = served
    before = query(db, "select id, title, body from articles")
    status, _, body = fetch(f"{base}/qsnews.json?sql={urllib.parse.quote(sql)}")
    assert status >= 400 or json.loads(body).get("ok") is False, (sql, status, body[:300])
    assert query(db, "select id, title, body from articles") == before
    assert not query(db, "select name from sqlite_master where name = 'pwned'")


@pytest.mark.parametrize("method, path", [
    ("POST", "/qsnews"), ("POST", "/qsnews/articles"), ("POST", "/qsnews/articles/1"),
    ("POST", "/-/create"), ("POST", "/qsnews/-/create"), ("POST", "/qsnews/articles/-/insert"),
    ("POST", "/qsnews/articles/-/upsert"), ("POST", "/qsnews/articles/1/-/update"),
    ("POST", "/qsnews/articles/1/-/delete"), ("POST", "/qsnews/articles/-/drop"), ("POST", "/-/upload-csvs"),
    ("PUT", "/qsnews/articles/1"), ("DELETE", "/qsnews/articles/1"), ("POST", "/-/search"),
    ("POST", "/qsnews/ranked_search"), ("POST", "/qsnews/latest_by_region"),
])
def test_write_endpoints_are_refused(served, method, path):
    base, db = served
    before = query(db, "select id, title from articles")
    payload = json.dumps({"row": {"title": "pwned"}, "rows": [{"title": "pwned"}], "table": "pwned",
                          "sql": "delete from articles"}).encode()
    status, _, _ = fetch(base + path, data=payload, method=method)
    assert status in (400, 403, 404, 405), (method, path, status)
    assert query(db, "select id, title from articles") == before


def test_no_canned_query_writes(served):
    base, _ = served
    _, _, body = fetch(base + "/qsnews.json")
    queries = json.loads(body)["queries"]
    assert queries and not any(q.get("write") for q in queries)


def test_archive_is_served_mutable_but_read_only(served):
    """Datasette opens a mutable file's query connections with ``mode=ro``; ``immutable`` would be wrong here.

    ``immutable=1`` tells SQLite the file never changes: no locks, no WAL
    read, so a crawl writing at the same time would be missed or read torn.
    ``mode=ro`` reads the WAL safely and can never write.  Datasette's only
    read-write connection serves ``execute_write``, which no installed plugin
    and no route of ours calls (the tests above try every write path).
    """
    base, _ = served
    _, _, body = fetch(base + "/-/databases.json")
    [database] = [d for d in json.loads(body) if d["name"] == "qsnews"]
    assert database["is_mutable"] is True and not database.get("is_memory")
    _, _, body = fetch(base + "/-/plugins.json")
    assert not any("write" in p["name"] for p in json.loads(body))
