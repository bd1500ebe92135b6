"""Scale-out end to end: a real redis-server, two `qsnews crawl` workers over the sample sites, one
SIGKILLed mid-crawl, `qsnews ingest` draining the items into SQLite.

What is asserted, and why that is the right bar:
* every article a single-process crawl of the same sites archives is archived, once (one row per URL
  and every one counted as new exactly once in crawl_runs): nothing lost, nothing doubled;
* the server's request log shows no page fetched twice, except pages the killed worker held leased
  when it died: those it may or may not have finished, so they are fetched again, at-least-once,
  by the surviving worker after the kill (robots.txt is fetched once per worker process, by design);
* the crawl leaves no keys behind, so the next crawl starts afresh, and that next crawl is incremental:
  known articles (published by the ingester) are not fetched again.
"""
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
import redis

from conftest import ROOT, run_qsnews
from daemons import LoggedDemoServer, redis_server, stop, wait_for
from crawler.demo_server import host_map
from loopback import query as rows

DEMO_REGISTRY = ROOT / "crawler" / "demo_sources.toml"



def worker(tmp, name, redis_url, port):
    """`qsnews crawl --all` over the sample sites as a worker, with its own --db (WARC, logs) like another machine."""
    env = {**os.environ, "QSNEWS_REDIS_URL": redis_url}
    settings = {"QSNEWS_HOST_MAP": json.dumps(host_map(port)), "DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False",
                "QSNEWS_RETRY_BACKOFF_BASE": "0", "QSNEWS_WORKER_TTL": "5",
                "CONCURRENT_REQUESTS": "2"}
    args = [sys.executable, "-m", "crawler.cli", "crawl", "--all", "--registry", str(DEMO_REGISTRY),
            "--db", str(tmp / name / "qsnews.db")]
    for item in settings.items():
        args += ["-s", "=".join(item)]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def leased_urls(client, pid) -> set[str]:
    """URLs of the requests a worker held leased (taken from the queue, not yet done with)."""
    urls = set()
    for key in client.scan_iter(match=f"qsnews:crawl:*:lease:{socket.gethostname()}-{pid}-*".encode()):
        urls |= {pickle.loads(data)["url"] for data in client.hvals(key)}
    return urls


def fetched(server) -> list[tuple[float, str]]:
    return [(t, url) for t, url in server.requests if not url.endswith("/robots.txt")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """What one process crawling the same sample sites archives: the bar the workers must meet."""
    db = tmp_path_factory.mktemp("reference") / "qsnews.db"
    result = run_qsnews("demo", "--no-serve", "--db", db)
    assert result.returncode == 0, result.stderr[-2000:]
    return db


@pytest.fixture(scope="module")
def scaleout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scaleout")
    server = LoggedDemoServer(delay=0.5)
    with redis_server(tmp / "redis") as url, server as server_port:
        client = redis.Redis.from_url(url)
        a, b = worker(tmp, "a", url, server_port), worker(tmp, "b", url, server_port)
        try:
            # Mid-crawl: pages fetched, more to come, and worker a holding some of them.
            wait_for(lambda: len(fetched(server)) >= 6 and leased_urls(client, a.pid), 30, "worker a to be mid-crawl")
            a.send_signal(signal.SIGKILL)
            a.wait(timeout=10)
            killed_at = time.monotonic()
            in_flight = leased_urls(client, a.pid)
            fetched_before_kill = len(fetched(server))
            b_out, b_err = b.communicate(timeout=60)
        finally:
            stop(a)
            stop(b)
        db = tmp / "archive" / "qsnews.db"
        ingest = run_qsnews("ingest", "--db", db, "--redis", url, "--until-empty", timeout=60)
        leftover = sorted(key.decode() for key in client.keys("qsnews:*") if key != b"qsnews:known")
        yield {"tmp": tmp, "url": url, "client": client, "server": server, "port": server_port, "db": db,
               "killed_at": killed_at, "in_flight": in_flight, "fetched_before_kill": fetched_before_kill,
               "b": (b.returncode, b_out, b_err), "a": a.returncode, "ingest": ingest, "leftover": leftover}


def test_killed_worker_loses_nothing_and_doubles_nothing(scaleout, reference):
    code, out, err = scaleout["b"]
    assert scaleout["a"] == -signal.SIGKILL
    assert code == 0, err[-3000:]
    assert scaleout["ingest"].returncode == 0, scaleout["ingest"].stderr[-3000:]
    db = scaleout["db"]
    expected = {r["url"] for r in rows(reference, "select url from articles")}
    archived = [r["url"] for r in rows(db, "select url from articles")]
    assert sorted(archived) == sorted(expected)
    runs = rows(db, "select r.*, s.name from crawl_runs r join sources s on s.id = r.source_id")
    assert sum(r["new_articles"] for r in runs) == len(expected)  # each article new exactly once
    assert all(r["finished_at"] for r in runs)
    statuses = {r["name"]: r["status"] for r in rows(reference, "select name, status from sources")}
    assert {r["name"]: r["status"] for r in runs} == statuses
    assert any("progress:" in log.read_text() for log in (scaleout["tmp"] / "b" / "logs").glob("*.log"))
    assert {r["url"] for r in rows(db, "select url from pages")} == {
        r["url"] for r in rows(reference, "select url from pages")}


def test_only_pages_in_flight_at_the_kill_are_fetched_twice(scaleout):
    server, in_flight = scaleout["server"], scaleout["in_flight"]
    log = fetched(server)
    assert in_flight and scaleout["fetched_before_kill"] < len(log)  # the kill really was mid-crawl
    twice = {url for url, n in Counter(url for _, url in log).items() if n > 1}
    assert twice <= in_flight, f"fetched twice without being in flight at the kill: {twice - in_flight}"
    # Taken up again after the kill: fetched, or, for a URL robots.txt forbids, never meant to reach the site.
    after_kill = {url for t, url in log if t > scaleout["killed_at"]}
    forbidden = {r["url"] for r in rows(scaleout["db"], "select url from pages where reason = 'Forbidden by robots.txt'")}
    assert in_flight - forbidden <= after_kill, f"in flight at the kill, never fetched again: {in_flight - after_kill}"


def test_crawl_cleans_up_and_the_next_one_is_incremental(scaleout):
    assert scaleout["leftover"] == []  # queue, dupefilter, leases, items: all gone
    client, server = scaleout["client"], scaleout["server"]
    known = {url.decode() for url in client.smembers("qsnews:known")}
    assert known == {r["url"] for r in rows(scaleout["db"], "select url from articles")}
    before = len(server.requests)
    again = worker(scaleout["tmp"], "c", scaleout["url"], scaleout["port"])
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err[-3000:]
    refetched = {url for _, url in server.requests[before:]} & known
    assert not refetched
    assert len(server.requests) > before  # list pages were fetched: a new crawl, not a filtered-out one


def test_killed_ingester_loses_nothing(tmp_path):
    """A message moved to the processing list by an ingester that died before writing it is written next time;
    a message the archive refuses is recorded with its reason and does not stop the ingester."""
    from crawler.ingest import PROCESSING_KEY
    from crawler.scaleout import ITEMS_KEY

    source = {"name": "测试来源", "kind": "bureau", "level": "province", "region_code": "420000", "cms": "trs"}
    page = {"url": "http://example.gov.cn/a.html", "outcome": "list", "reason": None, "http_status": 200}
    with redis_server(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        client.lpush(PROCESSING_KEY, json.dumps({"type": "page", "source": source, "page": page}))
        client.lpush(ITEMS_KEY, json.dumps({"type": "page", "source": source,
                                            "page": {**page, "url": "http://example.gov.cn/b.html"}}))
        # A record the archive refuses (no URL) costs only itself: its page says why, the ingester goes on.
        client.lpush(ITEMS_KEY, json.dumps({"type": "article", "source": source, "record": {"title": "无网址"},
                                            "page": {**page, "url": "http://example.gov.cn/c.html",
                                                     "outcome": "article"}}))
        client.lpush(ITEMS_KEY, json.dumps({"type": "page", "source": source,
                                            "page": {**page, "url": "http://example.gov.cn/d.html"}}))
        result = run_qsnews("ingest", "--db", tmp_path / "qsnews.db", "--redis", url, "--until-empty")
        assert result.returncode == 0, result.stderr
        assert "messages=4" in result.stdout
        assert client.llen(PROCESSING_KEY) == 0 and client.llen(ITEMS_KEY) == 0
    pages = {r["url"]: (r["outcome"], r["reason"]) for r in rows(tmp_path / "qsnews.db", "select * from pages")}
    assert pages == {"http://example.gov.cn/a.html": ("list", None), "http://example.gov.cn/b.html": ("list", None),
                     "http://example.gov.cn/c.html": ("error", "archiving failed: ValueError: upsert_article: "
                                                                "record has no url"),
                     "http://example.gov.cn/d.html": ("list", None)}
    assert not rows(tmp_path / "qsnews.db", "select * from articles")
