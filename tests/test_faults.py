"""Faults: a killed crawl, readers during a crawl, a disk that is read-only or full.

* A crawl killed with SIGKILL and run again ends with exactly the articles of
  an uninterrupted crawl (same URLs, same content hashes), no duplicates,
  and a database that passes ``PRAGMA integrity_check``.
* Datasette, in another process, answers every request while a crawl writes.
* A read-only or full disk stops the crawl with a clear message and a
  non-zero exit, and leaves no half-written article (an article and its
  paragraphs are one transaction).

The sites are generated (fixed seed) and served on loopback (tests/loopback.py).
"""
import os
import random
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from archive.store import Archive
from loopback import (Page, ROOT, Site, article_page, crawl_settings, list_pages, qsnews_command, query,
                      registry, run, serving)

HAN = "质量监督检验检疫局市场管理产品抽查合格企业特种设备安全电梯锅炉标准计量认证食品药品价格执法消费者权益保护"


def news_site(hosts: list[str], per_host: int, seed: int = 7, paragraphs: int = 4, per_page: int = 10) -> dict:
    """Generic sites with ``per_host`` distinct articles each, ``per_page`` to a list page."""
    rng = random.Random(seed)
    pages = {}
    for host in hosts:
        links = []
        for i in range(per_host):
            path = f"/news/20240601/{300000 + i}.html"
            text = ["".join(rng.choice(HAN) for _ in range(rng.randint(40, 90))) + "。" for _ in range(paragraphs)]
            pages[(host, path)] = Page(article_page(f"质量监督新闻第{i}号通报", text))
            links.append((path, f"质量监督新闻第{i}号通报"))
        pages.update(list_pages(host, links, per_page=per_page))
    return pages


def sources(tmp: Path, hosts: list[str]) -> Path:
    return registry(tmp / "sources.toml", [{"name": f"故障测试站{n}", "host": host, "start": "/list/index.html"}
                                           for n, host in enumerate(hosts)])


def crawl_args(reg: Path, db: Path, site: Site, **settings) -> list:
    return ["crawl", "--all", "--registry", reg, "--db", db, *crawl_settings(site, **settings)]


def articles(db) -> set[tuple[str, str]]:
    return {(r["url"], r["content_hash"]) for r in query(db, "select url, content_hash from articles")}


def assert_whole(db):
    """Integrity, no duplicates, and every article with exactly its own body paragraphs."""
    assert query(db, "pragma integrity_check")[0]["integrity_check"] == "ok"
    assert query(db, "select count(*) n from articles")[0]["n"] == query(db, "select count(distinct url) n from articles")[0]["n"]
    torn = query(db, """select a.url from articles a where a.paragraph_count !=
                        (select count(*) from paragraphs p where p.article_id = a.id and p.kind = 'body')
                        or not exists (select 1 from paragraphs p where p.article_id = a.id)""")
    assert not torn, torn[:3]


# -- SIGKILL ------------------------------------------------------------------------------------------------------

KILL_HOSTS = ["kill1.example.gov.cn", "kill2.example.gov.cn"]


def wait_for_articles(db: Path, at_least: int, process, limit: float = 60, each_below: int | None = None) -> int:
    """Articles archived once ``at_least`` have landed (-1 if never); with ``each_below``, only at a moment when
    every source has some and none has that many yet (each source's run is then still going)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        if db.exists():
            try:
                per_source = [r["n"] for r in query(db, "select count(*) n from articles group by source_id")]
            except Exception:  # the schema is being created
                per_source = []
            n = sum(per_source)
            mid_way = each_below is None or (len(per_source) > 1 and 0 < min(per_source) and max(per_source) < each_below)
            if n >= at_least and mid_way:
                return n
        time.sleep(0.05)
    return -1


def test_killed_crawl_rerun_equals_uninterrupted_crawl(tmp_path):
    pages = news_site(KILL_HOSTS, per_host=40)
    reg = sources(tmp_path, KILL_HOSTS)
    with Site(pages, delay=0.1) as site:  # slow enough to be caught with both sources half way
        whole = tmp_path / "whole" / "qsnews.db"
        result = run(*crawl_args(reg, whole, site))
        assert result.returncode == 0, result.stdout + result.stderr[-2000:]
        expected = articles(whole)
        assert len(expected) == 80

        killed = tmp_path / "killed" / "qsnews.db"
        process = subprocess.Popen(qsnews_command(*crawl_args(reg, killed, site)), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            landed = wait_for_articles(killed, 25, process, each_below=40)  # both sources mid-crawl
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=10)
        assert 25 <= landed < 80, "the crawl was not killed half way"
        partial = articles(killed)
        assert partial < expected
        assert_whole(killed)

        again = run(*crawl_args(reg, killed, site))
        assert again.returncode == 0, again.stdout + again.stderr[-2000:]
    assert articles(killed) == expected
    assert_whole(killed)
    statuses = [r["status"] for r in query(killed, "select status from crawl_runs order by id")]
    assert statuses == ["interrupted", "interrupted", "ok", "ok"], statuses


# -- Datasette reading while a crawl writes -------------------------------------------------------------------

READ_PATHS = ["/qsnews/articles.json?_size=20", "/qsnews.json?sql=select+count(*)+from+articles",
              "/-/search?q=%E8%B4%A8%E9%87%8F", "/qsnews/articles?_search=%E8%B4%A8%E9%87%8F", "/qsnews/pages.json",
              "/qsnews/paragraphs.json?_size=50", "/qsnews/crawl_runs.json", "/qsnews/articles?_facet=province"]


def test_datasette_answers_while_a_crawl_writes(tmp_path):
    hosts = ["busy1.example.gov.cn", "busy2.example.gov.cn"]
    reg = sources(tmp_path, hosts)
    db = tmp_path / "qsnews.db"
    Archive(db).close()
    errors, answered, counts = [], [0], []
    with serving(db) as base:
        with Site(news_site(hosts, per_host=120, seed=11)) as site:
            crawl = subprocess.Popen(qsnews_command(*crawl_args(reg, db, site)), cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            stop = time.monotonic() + 90

            def reader(n):
                while crawl.poll() is None and time.monotonic() < stop:
                    path = READ_PATHS[n % len(READ_PATHS)]
                    n += 1
                    try:
                        with urllib.request.urlopen(base + path, timeout=15) as response:
                            body = response.read()
                            if response.status != 200:
                                errors.append((path, response.status))
                            if "sql=" in path:
                                counts.append(body)
                        answered[0] += 1
                    except (urllib.error.URLError, OSError) as exc:
                        errors.append((path, repr(exc)))

            threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert crawl.wait(timeout=60) == 0, crawl.stderr.read()[-2000:]
    assert not errors, errors[:5]
    assert answered[0] >= 50
    assert len(set(counts)) > 2, "the readers did not see the crawl progress"
    assert query(db, "select count(*) n from articles")[0]["n"] == 240


# -- read-only and full disks -------------------------------------------------------------------------------------

def _mount(*args) -> bool:
    return os.geteuid() == 0 and subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs (root), so the disk really fills; unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)):
        pytest.skip("cannot mount a small tmpfs here (needs root); the full-disk test needs a real full disk")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def make_read_only(folder: Path) -> None:
    """A read-only file system where we can (root ignores permission bits), else permission bits."""
    if os.geteuid() == 0:
        if not (_mount("--bind", str(folder), str(folder)) and _mount("-o", "remount,bind,ro", str(folder))):
            pytest.skip("root without mount rights: cannot make a folder read-only here")
    else:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)


def undo_read_only(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["umount", str(folder)], capture_output=True)
    else:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_read_only_archive_gives_a_clear_error(tmp_path):
    hosts = ["ro.example.gov.cn"]
    reg = sources(tmp_path, hosts)
    folder = tmp_path / "archive"
    db = folder / "qsnews.db"
    with Site(news_site(hosts, per_host=5)) as site:
        assert run(*crawl_args(reg, db, site)).returncode == 0
        before = articles(db)
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        make_read_only(folder)
        make_read_only(fresh)
        try:
            for target in (db, fresh / "qsnews.db"):
                result = run(*crawl_args(reg, target, site))
                assert result.returncode not in (0, 3), result.stdout
                assert "Traceback" not in result.stderr, result.stderr[-3000:]
                assert "read-only" in result.stderr and str(target.parent) in result.stderr, result.stderr
        finally:
            for path in (folder, fresh):
                undo_read_only(path)
    assert articles(db) == before


def test_full_disk_stops_the_crawl_with_a_clear_error(tmp_path, small_disk):
    hosts = ["full.example.gov.cn"]
    reg = sources(tmp_path, hosts)
    db = small_disk / "qsnews.db"
    with Site(news_site(hosts, per_host=400, paragraphs=8, per_page=50)) as site:
        result = run(*crawl_args(reg, db, site), timeout=180)
    assert result.returncode not in (0, 3), result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "full" in result.stderr and str(small_disk) in result.stderr, result.stderr[-2000:]
    assert 0 < len(articles(db)) < 400
    assert_whole(db)
