"""Downloader middlewares, one at a time, without a reactor or a network."""
import gzip
import hashlib

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from crawler.middlewares import (Blocked, ChallengeMiddleware, EncodingMiddleware, HostMapMiddleware, WarcMiddleware,
                                 backoff_delay, challenge_reason)

TEXT = "通城县质监局以民主评议政风行风工作为契机"
ARTICLE = f"<html><head><title>质量兴县</title></head><body>{'<p>' + TEXT + '</p>' * 80}</body></html>"


# ---------------------------------------------------------------- host map
def test_mapped_host_goes_to_loopback_as_proxy_request_keeping_its_url():
    mw = HostMapMiddleware({"www.cqn.com.cn": "127.0.0.1:8123"})
    request = Request("http://www.cqn.com.cn/zj/node_4595.htm")
    assert mw.process_request(request) is None
    assert request.meta["proxy"] == "http://127.0.0.1:8123"
    assert request.url == "http://www.cqn.com.cn/zj/node_4595.htm"  # the item's url and the Host header


def test_robots_txt_of_a_mapped_host_is_mapped_too():
    mw = HostMapMiddleware({"WWW.CQN.COM.CN": "127.0.0.1:8123"})
    robots = Request("http://www.cqn.com.cn/robots.txt", meta={"dont_obey_robotstxt": True})
    mw.process_request(robots)
    assert robots.meta["proxy"] == "http://127.0.0.1:8123"


def test_unmapped_hosts_are_left_alone_and_mapped_https_never_leaks():
    mw = HostMapMiddleware({"www.cqn.com.cn": "127.0.0.1:8123"})
    other = Request("http://scjg.hubei.gov.cn/")
    mw.process_request(other)
    assert "proxy" not in other.meta
    with pytest.raises(IgnoreRequest):
        mw.process_request(Request("https://www.cqn.com.cn/"))


def test_host_map_is_off_without_a_map():
    with pytest.raises(NotConfigured):
        HostMapMiddleware.from_crawler(get_crawler(settings_dict={"QSNEWS_HOST_MAP": {}}))


# ---------------------------------------------------------------- encoding
def _respond(body: bytes, content_type: str, url="http://scjg.hubei.gov.cn/a.html"):
    request = Request(url, meta={"page": {"encoding": None}})
    return request, HtmlResponse(url, body=body, headers={"Content-Type": content_type}, request=request)


def test_gbk_page_sent_as_utf8_is_decoded_as_gb18030_and_recorded():
    body = f'<meta http-equiv="Content-Type" content="text/html; charset=gb2312"><p>{TEXT}</p>'.encode("gbk")
    request, response = _respond(body, "text/html; charset=UTF-8")
    decoded = EncodingMiddleware().process_response(request, response)
    assert TEXT in decoded.text and decoded.encoding == "gb18030"
    assert request.meta["page"]["encoding"] == "gb18030"


def test_utf8_page_declared_gbk_stays_utf8():
    request, response = _respond(f'<meta charset="gbk"><p>{TEXT}</p>'.encode("utf-8"), "text/html; charset=GBK")
    decoded = EncodingMiddleware().process_response(request, response)
    assert decoded.encoding == "utf-8" and TEXT in decoded.text


def test_binary_responses_are_not_decoded():
    request = Request("http://x.example/a.pdf", meta={"page": {"encoding": None}})
    response = Response(request.url, body=b"%PDF-1.4", request=request)
    assert EncodingMiddleware().process_response(request, response) is response
    assert request.meta["page"]["encoding"] is None


# ---------------------------------------------------------------- challenges
RUISHU_200 = b"<html><head><script>var $_ts=window['$_ts'];if(!$_ts)$_ts=window['$_ts']={};$_ts.nsd=1;</script></head></html>"
META_COOKIE = b'<html><head><meta http-equiv="refresh" content="0;url=/index.html"></head><body></body></html>'
JSL = b"<script>document.cookie=('_')+('_')+('jsl_clearance')+'=1599;path=/';location.href=location.pathname</script>"
WITH_COOKIE = Response("http://x.example/", headers={"Set-Cookie": "waf=1"}).headers
NO_COOKIE = Response("http://x.example/").headers


@pytest.mark.parametrize("status, hdrs, body, expected", [
    (412, NO_COOKIE, RUISHU_200, "412"),
    (403, NO_COOKIE, b"<html>Forbidden</html>", "403"),
    (200, NO_COOKIE, RUISHU_200, "$_ts"),
    (200, WITH_COOKIE, META_COOKIE, "meta refresh"),
    (200, NO_COOKIE, JSL.replace(b"jsl_clearance", b"__jsl_clearance"), "WAF"),
])
def test_challenges_are_recognised(status, hdrs, body, expected):
    assert expected in challenge_reason(status, hdrs, body)


@pytest.mark.parametrize("status, hdrs, body", [
    (200, WITH_COOKIE, ARTICLE.encode("utf-8")),  # a real page that also sets a cookie
    (200, NO_COOKIE, META_COOKIE),  # a plain redirect page, no cookie
    (404, NO_COOKIE, b"<html>Not Found</html>"),
    (200, NO_COOKIE, b"%PDF-1.4 tiny"),
])
def test_content_is_not_a_challenge(status, hdrs, body):
    assert challenge_reason(status, hdrs, body) is None


def test_a_challenge_blocks_the_source_for_the_rest_of_the_run():
    crawler = get_crawler(settings_dict={})
    crawler.stats.open_spider()
    mw = ChallengeMiddleware.from_crawler(crawler)
    request = Request("http://scjgj.challenge-demo.example/")
    page = Response(request.url, status=412, body=RUISHU_200, request=request)
    with pytest.raises(Blocked) as caught:
        mw.process_response(request, page)
    assert caught.value.response is page and "412" in caught.value.reason
    assert any(key.startswith("qsnews/blocked/") for key in crawler.stats.get_stats())
    with pytest.raises(Blocked):
        mw.process_request(Request("http://scjgj.challenge-demo.example/other.html"))


def test_ordinary_responses_pass_the_challenge_check():
    mw = ChallengeMiddleware.from_crawler(get_crawler(settings_dict={}))
    request = Request("http://x.example/a.html")
    response = HtmlResponse(request.url, body=ARTICLE.encode("utf-8"), request=request)
    assert mw.process_response(request, response) is response
    assert mw.process_request(Request("http://x.example/b.html")) is None


# ---------------------------------------------------------------- WARC
def test_every_response_is_written_to_the_warc_and_can_be_found_by_its_offset(tmp_path):
    mw = WarcMiddleware(get_crawler(settings_dict={"USER_AGENT": "qsnews-test"}), tmp_path / "warc")
    pages = {}
    for n, body in enumerate((ARTICLE.encode("gbk"), b"<html>404</html>")):
        request = Request(f"http://scjg.hubei.gov.cn/xwzx/{n}.html", headers={"User-Agent": "qsnews-test"})
        response = Response(request.url, status=200 if n == 0 else 404, body=body,
                            headers={"Content-Type": "text/html; charset=UTF-8"}, request=request)
        assert mw.process_response(request, response) is response
        pages[request.url] = (request.meta["page"], body)
    mw.close()
    files = list((tmp_path / "warc").iterdir())
    assert len(files) == 1 and files[0].name.endswith(".warc.gz")
    gzip.decompress(files[0].read_bytes())  # a valid multi-member gzip
    for url, (page, body) in pages.items():
        assert page["warc_file"] == files[0].name and page["fetched_at"].endswith("+00:00")
        with open(files[0], "rb") as handle:
            handle.seek(page["warc_offset"])
            records = ArchiveIterator(handle)
            response = next(records)
            assert response.rec_type == "response"
            assert response.rec_headers.get_header("WARC-Target-URI") == url
            assert int(response.http_headers.get_statuscode()) == page["http_status"]
            assert response.content_stream().read() == body
            request = next(records)
            assert request.rec_type == "request"
            assert request.rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header("WARC-Record-ID")
            assert request.http_headers.get_header("Host") == "scjg.hubei.gov.cn"
        assert page["sha256"] == hashlib.sha256(body).hexdigest()


def test_warc_records_carry_valid_digests_and_lengths(tmp_path):
    """The records are written with their payload length given (no spooling); digests and lengths must hold."""
    mw = WarcMiddleware(get_crawler(settings_dict={"USER_AGENT": "qsnews-test"}), tmp_path / "warc")
    bodies = [ARTICLE.encode("utf-8"), b"", bytes(range(256)) * 40]
    for n, body in enumerate(bodies):
        request = Request(f"http://scjg.hubei.gov.cn/{n}.html", method="POST" if n == 1 else "GET",
                          body=b"a=1" if n == 1 else b"")
        mw.process_response(request, Response(request.url, body=body, request=request))
    mw.close()
    (warc,) = (tmp_path / "warc").iterdir()
    seen = []
    with open(warc, "rb") as handle:
        for record in ArchiveIterator(handle, check_digests=True):
            payload = record.content_stream().read()
            assert record.digest_checker.passed is True, (record.rec_type, record.digest_checker.problems)
            seen.append((record.rec_type, payload))
    assert [payload for kind, payload in seen if kind == "response"] == bodies
    assert [payload for kind, payload in seen if kind == "request"] == [b"", b"a=1", b""]


def test_control_byte_count_is_a_count():
    from crawler.sniff import CONTROL, _control_count, binary_reason

    data = bytes(range(256)) * 3 + b"\x01\x02text"
    assert _control_count(data) == sum(byte in CONTROL for byte in data)
    assert _control_count(b"") == 0
    assert binary_reason(b"<html>" + b"\x01" * 100 + b"a" * 4000) == "binary content (control bytes)"
    assert binary_reason(b"<html>" + b"\x01" * 80 + b"a" * 4000) is None  # 80 of 4086 is under 2%


# ---------------------------------------------------------------- retry backoff
def test_backoff_doubles_and_respects_retry_after_and_the_cap():
    assert [backoff_delay(n, 5, 120) for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff_delay(1, 5, 120, retry_after="60") == 60
    assert backoff_delay(6, 5, 120) == 120
    assert backoff_delay(2, 0, 120) == 0
