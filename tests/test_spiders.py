"""The real spiders, with the real start URLs, against the sample sites on loopback.

Each crawl runs `python -m scrapy crawl` in a child process (a Twisted reactor
cannot restart in one process) with QSNEWS_HOST_MAP pointing the sample hosts
at a DemoServer, and a test pipeline writing every item as a JSON line.  Any
request the host map does not cover goes to a dead proxy, so nothing leaves
the machine.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo_server import SITES, DemoServer, host_map
from spiders import detect_family, detect_family_from_url

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "crawler" / "demo_sources.toml"
TRS, PORTAL, MIRROR = "湖北省市场监督管理局（样例）", "中国质量新闻网（样例）", "质监资讯镜像站（样例）"
CHALLENGE = "某市市场监督管理局（412 挑战样例）"
HUBEI = "http://scjg.hubei.gov.cn"
TRS_ARTICLES = {
    f"{HUBEI}/xwzx/szdt/202406/t20240612_5201876.html",
    f"{HUBEI}/xwzx/szdt/202405/t20240521_5178830.html",
    f"{HUBEI}/xwzx/szdt/201408/t20140822_611337.html",
    f"{HUBEI}/xwzx/szdt/201207/t20120718_385412.html",
}
PORTAL_ARTICLES = {
    "http://www.cqn.com.cn/zj/content/2016-04/18/content_2808731.htm",
    "http://www.cqn.com.cn/zj/content/2016-04/15/content_2805512.htm",
    "http://www.cqn.com.cn/zj/content/2011-02/21/content_1170391.htm",
}
MIRROR_ARTICLES = {
    "http://www.zhijian-mirror.example/news/2021/1228/466d3e6909.html",
    "http://www.zhijian-mirror.example/news/2011/0221/9d81ed6274.html",
}


class Crawl:
    def __init__(self, items, warc_dir: Path, log: str):
        self.items, self.warc_dir, self.log = items, warc_dir, log
        self.articles = [i for i in items if i["type"] == "ArticleItem"]
        self.pages = [i for i in items if i["type"] == "PageItem"]

    def article(self, url):
        (found,) = [a for a in self.articles if a["url"] == url]
        return found

    def outcomes(self, outcome):
        return {p["url"]: p for p in self.pages if p["outcome"] == outcome}

    def records(self, kind: str):
        for warc in self.warc_dir.glob("*.warc.gz"):
            with open(warc, "rb") as handle:
                for record in ArchiveIterator(handle):
                    if record.rec_type == kind:
                        yield record

    def fetched(self) -> list[str]:
        """Every URL the run actually requested, read back from its WARC file."""
        return [r.rec_headers.get_header("WARC-Target-URI") for r in self.records("response")]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """crawl(spider, *spider_args, **settings) -> Crawl; each distinct crawl runs once per module."""
    done = {}
    with DemoServer() as port:
        def run(spider, *args, **settings):
            key = (spider, args, tuple(sorted(settings.items())))
            if key not in done:
                done[key] = _run(tmp_path_factory.mktemp(spider), port, spider, args, settings)
            return done[key]
        yield run


def _run(workdir: Path, port: int, spider: str, args, settings) -> Crawl:
    out = workdir / "items.jsonl"
    options = {
        "QSNEWS_HOST_MAP": json.dumps(host_map(port)),
        "QSNEWS_WARC_DIR": str(workdir / "warc"),
        "QSNEWS_TEST_ITEMS": str(out),
        "ITEM_PIPELINES": json.dumps({"collect_pipeline.CollectPipeline": 100}),
        "DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "0", "QSNEWS_RETRY_BACKOFF_BASE": "0", "LOG_LEVEL": "INFO",
        **settings,
    }
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"registry={DEMO}"]
    for arg in args:
        command += ["-a", arg]
    for name, value in options.items():
        command += ["-s", f"{name}={value}"]
    dead_proxy = "http://127.0.0.1:9"  # anything the host map misses fails here instead of reaching the network
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'tests'}{os.pathsep}{ROOT}", "http_proxy": dead_proxy,
           "https_proxy": dead_proxy, "no_proxy": ""}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    return Crawl(items, workdir / "warc", result.stderr)


# ---------------------------------------------------------------- TRS bureau site
def test_trs_collects_every_article_once_and_nothing_else(crawl):
    run = crawl("trs", f"source={TRS}")
    assert sorted(a["url"] for a in run.articles) == sorted(TRS_ARTICLES)
    for article in run.articles:
        assert article["html"].strip() and article["source_name"] == TRS
        assert article["warc_file"] and article["sha256"] and article["http_status"] == 200
    lists = run.outcomes("list")
    assert set(lists) == {f"{HUBEI}/xwzx/szdt/index.html", f"{HUBEI}/xwzx/szdt/index_1.html"}


def test_requests_say_who_we_are(crawl):
    agents = {r.http_headers.get_header("User-Agent") for r in crawl("trs", f"source={TRS}").records("request")}
    assert len(agents) == 1 and agents.pop().startswith("qsnews/0.1 (+")


def test_trs_list_hints_reach_the_article(crawl):
    article = crawl("trs", f"source={TRS}").article(f"{HUBEI}/xwzx/szdt/201207/t20120718_385412.html")
    assert article["hints"] == {"list_title": "襄州区质监局服务区域经济发展 推动质监能力建设上台阶", "list_date": "2012-07-18"}


def test_trs_two_page_gbk_article_is_one_item_decoded_as_gb18030(crawl):
    run = crawl("trs", f"source={TRS}")
    article = run.article(f"{HUBEI}/xwzx/szdt/201408/t20140822_611337.html")
    assert article["encoding"] == "gb18030"
    html = article["html"]
    assert "通城县质监局以民主评议政风行风工作为契机" in html  # page 1
    assert "挂到企业、社区和村" in html  # page 2, joined into the same body container
    assert html.index("市政府质量奖现场评审") < html.index("深层次加强建设 打造高效能团队")
    part = run.outcomes("article")[f"{HUBEI}/xwzx/szdt/201408/t20140822_611337_1.html"]
    assert part["encoding"] == "gb18030" and "page 2 of" in part["reason"]


def test_trs_attachments_are_recorded_not_downloaded(crawl):
    run = crawl("trs", f"source={TRS}")
    attachments = run.outcomes("attachment")
    assert {f"{HUBEI}/xwzx/szdt/202406/P020240612388162551208.pdf",
            f"{HUBEI}/xwzx/szdt/202404/P020240418511029003417.pdf"} == set(attachments)
    assert not [url for url in run.fetched() if url.endswith(".pdf")]


def test_trs_robots_disallowed_page_calendar_trap_and_dead_link(crawl):
    run = crawl("trs", f"source={TRS}")
    fetched = run.fetched()
    disallowed = f"{HUBEI}/ztzl/nbzl/202403/t20240308_5120018.html"
    assert disallowed not in fetched and f"{HUBEI}/robots.txt" in fetched
    assert "robots.txt" in run.outcomes("skipped")[disallowed]["reason"]
    assert not [url for url in fetched if "calendar" in url]
    dead = run.outcomes("error")[f"{HUBEI}/xwzx/szdt/201203/t20120301_300001.html"]
    assert dead["http_status"] == 404 and "404" in dead["reason"]


def test_second_run_with_known_urls_fetches_no_known_article(crawl, tmp_path):
    known = tmp_path / "known.txt"
    known.write_text("\n".join(sorted(TRS_ARTICLES)), encoding="utf-8")
    run = crawl("trs", f"source={TRS}", f"known_urls={known}")
    assert run.articles == []
    assert not TRS_ARTICLES & set(run.fetched())
    assert f"{HUBEI}/xwzx/szdt/index_1.html" not in run.fetched()  # page 1 listed nothing new


# ---------------------------------------------------------------- portal
def test_portal_pages_node_lists_and_collects_every_article(crawl):
    run = crawl("portal", f"source={PORTAL}")
    assert sorted(a["url"] for a in run.articles) == sorted(PORTAL_ARTICLES)
    assert set(run.outcomes("list")) == {"http://www.cqn.com.cn/zj/node_4595.htm", "http://www.cqn.com.cn/zj/node_4595_2.htm"}
    story = run.article("http://www.cqn.com.cn/zj/content/2011-02/21/content_1170391.htm")["html"]
    assert story.count("由天津市质监局局长杨效勇亲自带队") == 1 and "(yè)" not in story


def test_portal_paging_stops_at_a_list_page_of_known_articles(crawl, tmp_path):
    known = tmp_path / "known.txt"
    known.write_text("\n".join(sorted(PORTAL_ARTICLES)), encoding="utf-8")
    run = crawl("portal", f"source={PORTAL}", f"known_urls={known}")
    assert run.articles == []
    assert run.fetched() and "http://www.cqn.com.cn/zj/node_4595_2.htm" not in run.fetched()
    full = crawl("portal", f"source={PORTAL}", f"known_urls={known}", "full=1")
    assert "http://www.cqn.com.cn/zj/node_4595_2.htm" in full.fetched() and full.articles == []


# ---------------------------------------------------------------- spam mirror, generic
def test_generic_spider_collects_the_mirror_copies_as_damaged_as_scraped(crawl):
    run = crawl("generic", f"source={MIRROR}")
    assert sorted(a["url"] for a in run.articles) == sorted(MIRROR_ARTICLES)
    damaged = run.article("http://www.zhijian-mirror.example/news/2011/0221/9d81ed6274.html")["html"]
    assert "?;顒邮艿狡髽I" in damaged and damaged.count("由天津市質(zhì)監(jiān)局局長楊效勇親自帶隊(duì)") == 2
    assert not [url for url in run.fetched() if "mirror" not in url]  # junk links to other hosts stay unfetched


def test_generic_spider_on_an_unregistered_trs_page_navigates_it_as_trs(crawl):
    run = crawl("generic", f"url={HUBEI}/xwzx/szdt/index.html")
    assert sorted(a["url"] for a in run.articles) == sorted(TRS_ARTICLES)
    assert {a["source_name"] for a in run.articles} == {"scjg.hubei.gov.cn"}


def test_calendar_trap_ends_paging_at_its_first_empty_day(crawl):
    run = crawl("generic", f"url={HUBEI}/xwzx/rl/calendar.html?date=2024-06-12")
    assert len(run.outcomes("list")) == 2  # the start page, then the next day: nothing listed, paging stops


def test_calendar_trap_is_bounded_by_the_page_budget_and_depth_on_a_full_crawl(crawl):
    start = f"url={HUBEI}/xwzx/rl/calendar.html?date=2024-06-12"
    budget = crawl("generic", start, "max_pages=7", "full=1")
    assert len(budget.outcomes("list")) == 7 and "qsnews/budget_exhausted" in budget.log
    deep = crawl("generic", start, "full=1", DEPTH_LIMIT="3")
    assert len(deep.outcomes("list")) == 4  # the start page plus three levels


# ---------------------------------------------------------------- challenge
def test_412_challenge_host_is_blocked_never_passed_as_an_article(crawl):
    run = crawl("trs", f"source={CHALLENGE}")
    assert run.articles == []
    blocked = run.outcomes("blocked")
    assert "http://scjgj.challenge-demo.example/xwzx/gzdt/index.html" in blocked
    assert all("412" in p["reason"] for p in blocked.values())
    assert f"qsnews/blocked/{CHALLENGE}" in run.log


# ---------------------------------------------------------------- sample sites and family detection
def _site_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def test_every_seed_is_one_article_on_exactly_one_site():
    from html import unescape

    seeds = ROOT / "tests" / "fixtures" / "seeds"
    seeds = seeds if seeds.is_dir() else ROOT.parent / "shared" / "seeds"
    articles = {}  # a TRS article's continuation pages (t…_1.html) count as the same article
    for page in sorted(SITES.rglob("*.htm*")):
        key = re.sub(r"(t\d{8}_\d+)_\d+(\.html)$", r"\1\2", str(page))
        articles[key] = articles.get(key, "") + unescape(_site_text(page))
    for seed in sorted(seeds.glob("00*.txt")):
        lines = [line.removeprefix("- ") for line in seed.read_text(encoding="utf-8").splitlines() if len(line) > 30]
        holders = {p for p, text in articles.items() if all(line in text for line in lines)}
        assert len(holders) == 1, (seed.name, holders)


@pytest.mark.parametrize("path, family", [
    ("scjg.hubei.gov.cn/xwzx/szdt/index.html", "trs"),
    ("www.cqn.com.cn/zj/node_4595.htm", "portal"),
    ("www.zhijian-mirror.example/news/index.html", "generic"),
])
def test_detect_family_on_the_sample_lists(path, family):
    assert detect_family(_site_text(SITES / path), "http://" + path) == family


def test_detect_family_from_url():
    assert detect_family_from_url("http://www.cqn.com.cn/zj/node_4595_2.htm") == "portal"
    assert detect_family_from_url("http://www.example.gov.cn/col/col1229/index.html") == "hanweb"
    assert detect_family_from_url(f"{HUBEI}/xwzx/szdt/index.html") == "generic"


# ---------------------------------------------------------------- failures never stop a crawl
def _failure(exc, request):
    from twisted.python.failure import Failure

    failure = Failure(exc)
    failure.request = request
    return failure


@pytest.mark.parametrize("exc, reason", [
    ("dns", "DNS lookup failed for scjg.hubei.gov.cn"),
    ("timeout", "timeout"),
])
def test_network_failures_become_error_pages(exc, reason):
    from scrapy import Request
    from twisted.internet.error import DNSLookupError, TimeoutError

    from spiders.trs import TrsSpider

    spider = TrsSpider(source=TRS, registry=str(DEMO))
    error = DNSLookupError("no such host") if exc == "dns" else TimeoutError()
    (item,) = spider.on_error(_failure(error, Request(f"{HUBEI}/xwzx/szdt/index.html")))
    assert item["outcome"] == "error" and item["reason"] == reason and item["source_name"] == TRS


def test_a_failed_continuation_page_still_lets_its_article_through():
    from scrapy import Request
    from twisted.internet.error import TimeoutError

    from spiders.trs import TrsSpider

    spider = TrsSpider(source=TRS, registry=str(DEMO))
    article = {"url": f"{HUBEI}/a/t20140822_1.html", "html": "<html><body><div class='TRS_Editor'>一</div></body></html>",
               "meta": {}, "hints": {"list_title": "标题"}, "fragments": []}
    request = Request(f"{HUBEI}/a/t20140822_1_1.html", meta={"article": article, "remaining": []})
    page, item = spider.on_error(_failure(TimeoutError(), request))
    assert page["outcome"] == "error" and page["url"].endswith("_1_1.html")
    assert type(item).__name__ == "ArticleItem" and item["url"] == article["url"] and item["hints"] == {"list_title": "标题"}


# ---------------------------------------------------------------- Hanweb datastore paging (unit)
HANWEB_COLUMN = """<html><body><div id="77"><script type="text/xml"><datastore>
<nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=2&amp;webid=3&amp;columnid={col}&amp;unitid=77"></a>]]></nextgroup>
<recordset><record><![CDATA[<li><a href="/art/2024/6/3/art_{col}_11.html">某县开展电梯安全检查</a><span>2024-06-03</span></li>]]></record>
<record><![CDATA[<li><a href="/art/2024/5/9/art_{col}_10.html">某县召开食品安全工作会</a><span>2024-05-09</span></li>]]></record>
</recordset></datastore></script></div>{script}</body></html>"""
JPAGE = """<script>$('#{unit}').jpage({{perPage: 2, groupSize: 3, totalRecord: 20, proxyUrl: '/module/web/jpage/dataproxy.jsp',
ajaxParam: {{col: 1, appid: 1, webid: 3, path: '/', columnid: {col}, sourceContentType: 1, unitid: '{unit}', webname: '某县', permissiontype: 0}}}});</script>"""


def _hanweb_page(url, col=501, script=""):
    from scrapy.http import HtmlResponse

    return HtmlResponse(url, body=HANWEB_COLUMN.format(col=col, script=script).encode("utf-8"), encoding="utf-8")


def test_hanweb_reads_records_and_posts_for_the_next_group():
    from spiders import hanweb

    page = _hanweb_page("http://x.gov.cn/col/col501/index.html", script=JPAGE.format(unit=77, col=501))
    links = hanweb.article_links(page)
    assert [(link.url, link.date) for link in links] == [
        ("http://x.gov.cn/art/2024/6/3/art_501_11.html", "2024-06-03"),
        ("http://x.gov.cn/art/2024/5/9/art_501_10.html", "2024-05-09")]
    [post] = hanweb.list_pages(page, full=False)
    assert post.url == "http://x.gov.cn/module/web/jpage/dataproxy.jsp?startrecord=3&endrecord=8&perpage=2"
    assert (post.formdata["columnid"], post.formdata["unitid"], post.formdata["webname"]) == ("501", "77", "某县")
    every = hanweb.list_pages(page, full=True)
    assert [p.url.split("?")[1].split("&")[0] for p in every] == ["startrecord=3", "startrecord=9", "startrecord=15"]


def test_hanweb_pages_the_unit_of_the_registered_column():
    from spiders import hanweb

    script = JPAGE.format(unit=66, col=900) + JPAGE.format(unit=77, col=501)
    page = _hanweb_page("http://x.gov.cn/zwgk/index.html", script=script)
    assert hanweb.list_pages(page, False)[0].formdata["columnid"] == "900"  # no column in the URL: the first unit
    assert hanweb.list_pages(page, False, columns=["501"])[0].formdata["columnid"] == "501"


def test_hanweb_proxy_answers_continue_with_the_same_form_and_stop_at_the_total():
    from scrapy import FormRequest
    from scrapy.http import XmlResponse

    from spiders import hanweb

    form = {"columnid": "501", "unitid": "77", "webname": "某县"}

    def answer(start, end, total):
        query = f"startrecord={start}&endrecord={end}&perpage=2"
        request = FormRequest(f"http://x.gov.cn/module/web/jpage/dataproxy.jsp?{query}", formdata=form)
        body = (f"<datastore><totalrecord>{total}</totalrecord><recordset><record><![CDATA[<li>"
                "<a href='/art/2024/1/2/art_501_1.html'>标题标题标题标题</a></li>]]></record></recordset></datastore>")
        return XmlResponse(request.url, body=body.encode("utf-8"), request=request)

    [post] = hanweb.list_pages(answer(3, 8, 20), full=False)
    assert post.url.endswith("startrecord=9&endrecord=14&perpage=2") and post.formdata == form
    assert hanweb.list_pages(answer(15, 20, 20), full=False) == []


def test_hanweb_without_a_jpage_script_follows_the_nextgroup_link():
    from spiders import hanweb

    page = _hanweb_page("http://x.gov.cn/col/col501/index.html")
    assert hanweb.list_pages(page, False) == [
        "http://x.gov.cn/module/web/jpage/dataproxy.jsp?page=2&webid=3&columnid=501&unitid=77"]


# ---------------------------------------------------------------- attachment scan shortcut
ODD_LINKS = [
    '<a href="a&#46;pdf">a</a>', '<a href="b.p&#x64;f">b</a>', '<a href="c.pd\x00f">c</a>', '<a href="D.PDF#x">d</a>',
    '<a href="#top">t</a><a href="?page=2">p</a>', '<base href="http://127.0.0.1/files/x.doc"><a href="">e</a>',
    '<a href="e.xl&#115;">f</a>', '<a href="f.zip?x=1">g</a>', '<a href="g.rar/">h</a>', '<a href=" h.wps ">i</a>',
    '<a href="../up/j.XLSX">k</a>', '<a href="mailto:x@y.pdf">m</a>', '<a href="m.pdf.html">o</a>',
    '<a href="/news/1.html">plain</a>', '',
]


@pytest.mark.parametrize("links", ODD_LINKS)
def test_attachment_shortcut_finds_what_the_full_scan_finds(links, monkeypatch):
    """``may_link_attachments`` only skips pages the full scan would find nothing on."""
    from scrapy.http import HtmlResponse, Request

    import spiders.base
    from spiders.generic import GenericSpider

    url = "http://127.0.0.1/news/2024/page.html"
    body = f"<html><body><p>正文</p>{links}</body></html>".encode()

    def scan():
        response = HtmlResponse(url, body=body, encoding="utf-8", request=Request(url))
        spider = GenericSpider(url="http://127.0.0.1/news/list.html")
        return [dict(item) for item in spider.attachments(response)]

    shortcut = scan()
    monkeypatch.setattr(spiders.base, "may_link_attachments", lambda response: True)
    assert shortcut == scan()


def test_a_comment_after_a_list_link_does_not_lose_the_list_page():
    """A comment between a link and its date (CMS templates leave them) once raised in _date_near."""
    from scrapy.http import HtmlResponse

    from spiders.base import links

    html = ('<html><body><ul><li><a href="/a/1.html">市场监管局开展校服质量抽查</a><!-- 日期 --><span>2024-05-01</span>'
            ' <a href="/a/2.html">市场监管局通报电梯检验结果</a><span>2024-04-30</span></li></ul></body></html>')
    response = HtmlResponse("http://x.gov.cn/list.html", body=html.encode(), encoding="utf-8")
    found = {link.url: link.date for link in links(response)}
    assert found == {"http://x.gov.cn/a/1.html": "2024-05-01", "http://x.gov.cn/a/2.html": "2024-04-30"}
