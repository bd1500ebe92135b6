"""Cleaning and archiving in worker processes (pipelines.offload) and the batch write behind it.

* ``Archive.store_batch`` writes an article with its pages row in one
  transaction, and a bad entry costs only itself.
* A crawl with workers archives exactly what the inline crawl archives
  (articles, paragraphs, pages, clusters, versions, runs), ignoring ids and times.
* A worker's writer commits what comes in close succession as one batch.
* Killing the crawl process leaves no worker running; killing a worker's
  cleaner (or its writer dying) costs only the articles it held, which a full
  run fetches again.
"""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from archive.store import Archive
from loopback import (ROOT, Page, Site, article_page, crawl_settings, hooked_env, list_pages, qsnews_command, query,
                      registry, run)
from pipelines.offload import _frame, _receive, clean_article
from test_faults import HAN, articles, assert_whole, news_site, wait_for_articles


# -- the batch write ----------------------------------------------------------------------------------------------

def record(url: str, body: str = "电梯安全检查全面开展。") -> dict:
    return {"url": url, "title": "电梯检查", "body": body,
            "paragraphs": [{"position": 0, "kind": "body", "text": body}]}


def page(url: str, source_id: int, outcome: str = "article") -> dict:
    return {"url": url, "source_id": source_id, "fetched_at": "2024-06-01T10:00:00+08:00", "outcome": outcome}


def test_store_batch_writes_each_article_with_its_page_and_a_bad_entry_costs_only_itself(tmp_path):
    with Archive(tmp_path / "a.db") as archive:
        sid = archive.upsert_source({"name": "甲局", "kind": "bureau", "level": "province", "region_code": "420000"})
        statuses = archive.store_batch([
            (record("http://a/1"), page("http://a/1", sid)),
            (None, page("http://a/list.html", sid, "list")),
            (record("http://a/2"), page("http://a/2", sid, "nonsense")),  # the page fails: its article goes too
            ({"title": "no url"}, page("http://a/3", sid)),
        ])
        assert statuses[:2] == ["new", None]
        assert isinstance(statuses[2], sqlite3.IntegrityError) and isinstance(statuses[3], ValueError)
        assert archive.known_article_urls() == {"http://a/1"}
        stored = {r["url"]: r["outcome"] for r in archive.conn.execute("select url, outcome from pages")}
        assert stored == {"http://a/1": "article", "http://a/list.html": "list"}
        again = archive.store_batch([(record("http://a/1"), page("http://a/1", sid)),
                                     (record("http://a/1", "电梯安全检查已经结束。"), page("http://a/1", sid))])
        assert again == ["unchanged", "updated"]
        row = archive.conn.execute("select last_seen_at, source_id from articles").fetchone()
        assert tuple(row) == ("2024-06-01T10:00:00+08:00", sid)


def index_entries(archive) -> list:
    """What the search index holds, per article URL: every (url, column, term, position), duplicates too."""
    conn = archive.conn
    conn.execute("create virtual table if not exists temp.fts_instances using fts5vocab(main, articles_fts, instance)")
    urls = dict(conn.execute("select id, url from articles"))
    return sorted((urls[doc & 0xFFFFFFFF], col, term, offset)
                  for doc, term, col, offset in conn.execute("select doc, term, col, offset from temp.fts_instances"))


def test_a_batch_indexes_exactly_what_row_by_row_writes_index(tmp_path):
    """Batches index their new articles in one statement at the end; the index must not tell the difference:
    dates out of order, a bad entry (the batch is written again entry by entry), an edit, one URL twice."""
    def dated(url, day, body):
        return {**record(url, body), "published_at": f"2024-06-{day:02d}T09:00:00+08:00"}

    batches = [
        [(dated("http://a/1", 9, "电梯安全检查全面开展。"), "http://a/1"),
         (dated("http://a/2", 3, "燃气灶质量抽查结果公布。"), "http://a/2"),
         (None, "http://a/list.html"),
         (dated("http://a/3", 5, "校服抽检不合格名单。"), "http://a/3")],
        [(dated("http://a/4", 1, "儿童玩具召回。"), "http://a/4"),
         ({"title": "no url"}, "http://a/5"),
         (dated("http://a/2", 4, "燃气灶质量抽查结果更正。"), "http://a/2")],
        [(dated("http://a/6", 2, "计量器具检定。"), "http://a/6"),
         (dated("http://a/6", 7, "计量器具检定结果。"), "http://a/6")],
    ]
    with Archive(tmp_path / "batch.db") as batch, Archive(tmp_path / "rows.db") as rows:
        for archive in (batch, rows):
            sid = archive.upsert_source({"name": "甲局", "kind": "bureau", "level": "province"})
            for entries in batches:
                entries = [(rec, page(url, sid)) for rec, url in entries]
                if archive is batch:
                    archive.store_batch(entries)
                else:
                    for rec, pg in entries:
                        if rec and rec.get("url"):
                            archive.upsert_article(rec, sid, pg["fetched_at"])
        held = index_entries(batch)
        assert {url for url, *_ in held} == {"http://a/1", "http://a/2", "http://a/3", "http://a/4", "http://a/6"}
        assert held == index_entries(rows)
        batch.conn.execute("insert into articles_fts(articles_fts) values ('integrity-check')")


def test_a_writer_commits_entries_that_come_in_close_succession_as_one_batch(tmp_path):
    """Entries 50 ms apart, with a linger of 2 s: one transaction for the first four, and the one sent
    after their commit gets its own.  Without the linger the writer would catch up between entries and
    commit each alone."""
    db = tmp_path / "qsnews.db"
    with Archive(db) as archive:
        source_id = archive.upsert_source({"name": "批次测试站", "kind": "bureau"})
    writer = subprocess.Popen([sys.executable, "-m", "pipelines.offload", "write", str(db), "200", "2.0"], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(message):
        writer.stdin.write(_frame(message))
        writer.stdin.flush()

    def entry(seq):
        url = f"http://batch.example.gov.cn/{seq}.html"
        return ("entry", seq, "article", None, (record(url, f"第{seq}号电梯安全检查全面开展。"), page(url, source_id)))

    try:
        send(("ready",))
        assert _receive(writer.stdout.fileno()) == ("ready",)
        for seq in range(4):
            send(entry(seq))
            time.sleep(0.05)
        first = _receive(writer.stdout.fileno())  # written once no entry came for the linger
        send(entry(4))
        second = _receive(writer.stdout.fileno())
        send(("stop",))
        assert writer.wait(timeout=30) == 0
    finally:
        writer.kill()
    assert first == ("done", [(seq, "article", None, "new") for seq in range(4)])
    assert second == ("done", [(4, "article", None, "new")])
    assert len(query(db, "select id from articles")) == 5


def test_a_page_that_cannot_be_cleaned_says_why():
    record, outcome, reason = clean_article({"url": "http://a/1", "html": None}, {})
    assert (record, outcome) == (None, "error") and reason.startswith("cleaning failed: ValueError: ")
    assert clean_article({"url": "http://a/1", "html": "<html><body></body></html>"}, {}) == (
        None, "skipped", "no article text found on the page")


def test_a_worker_cleans_without_scrapy_or_the_pinyin_phrase_table():
    """Memory: a worker process holds the cleaning chain and the archive, not Scrapy (~50 MB) nor
    pypinyin's phrase table (~45 MB; per-character readings are all the pinyin check needs)."""
    probe = subprocess.run([sys.executable, "-c", """
import os, sys
from archive.store import Archive
from pipelines import mirror
from pipelines.offload import _prepare
html = "<html><body><h1>质量抽查</h1><div class=content><p>" + "市質監局對全市中小學校服開展抽查，結果將向社會公布。" * 3
outcome, reason, (record, page) = _prepare({"url": "http://a/1.html", "html": html + "</p></div>"}, "article", 1, {})
readings = mirror._readings("行")  # what repairing GBK-shifted mojibake next to an annotation asks
print(outcome, "scrapy" in sys.modules, readings == {"háng", "hàng", "héng", "xíng", "xìng"},
      "pypinyin.phrases_dict" in sys.modules, "PYPINYIN_NO_PHRASES" in os.environ)
"""], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["article", "False", "True", "False", "False"]


# -- inline and workers archive the same ----------------------------------------------------------------------------

HOSTS = ["offload1.example.gov.cn", "offload2.example.gov.cn"]


def mixed_site() -> dict:
    """Two sources; the second reprints five of the first's articles a day later; an empty page and a dead link."""
    rng = random.Random(5)
    texts = [["".join(rng.choice(HAN) for _ in range(rng.randint(60, 120))) + "。" for _ in range(4)]
             for _ in range(50)]
    pages = {}
    for n, host in enumerate(HOSTS):
        links = []
        for i, text in enumerate(texts[:30] if n == 0 else texts[:5] + texts[30:]):
            path = f"/news/2024060{1 + n}/{400000 + i}.html"
            pages[(host, path)] = Page(article_page(f"质量监督第{i}号通报", text, date=f"2024-06-0{1 + n}"))
            links.append((path, f"质量监督第{i}号通报"))
        empty, gone = f"/news/2024060{1 + n}/499998.html", f"/news/2024060{1 + n}/499999.html"
        pages[(host, empty)] = Page(b"<html><head><title>x</title></head><body></body></html>")
        links += [(empty, "空白页面的标题"), (gone, "已经删除的页面")]
        pages.update(list_pages(host, links, per_page=8))
    return pages


def contents(db: Path) -> dict:
    """Everything archived, keyed by URLs and source names rather than ids, without times and WARC offsets."""
    def rows(sql):
        return sorted(tuple(r.values()) for r in query(db, sql))

    articles = query(db, "select a.*, s.name as source from articles a left join sources s on s.id = a.source_id")
    for row in articles:
        for name in ("id", "source_id", "cluster_id", "first_seen_at", "last_seen_at"):
            row.pop(name)
    clusters = {}
    for r in query(db, "select a.cluster_id, a.url, c.size, c.first_published_at, c.source_names, "
                       "(select url from articles where id = c.canonical_article_id) canonical "
                       "from articles a join clusters c on c.id = a.cluster_id"):
        clusters.setdefault(r["cluster_id"], [r["size"], r["first_published_at"], r["source_names"], r["canonical"],
                                              set()])[4].add(r["url"])
    return {
        "articles": sorted(tuple(sorted(r.items())) for r in articles),
        "paragraphs": rows("select a.url, p.position, p.kind, p.text, p.reason from paragraphs p "
                           "join articles a on a.id = p.article_id"),
        "pages": rows("select p.url, s.name, p.http_status, p.content_type, p.encoding, p.sha256, p.outcome, p.reason, "
                      "p.etag, p.last_modified from pages p left join sources s on s.id = p.source_id"),
        "clusters": sorted((*c[:4], sorted(c[4])) for c in clusters.values()),
        "versions": rows("select a.url, v.version, v.content_hash, v.body, v.diff from article_versions v "
                         "join articles a on a.id = v.article_id"),
        "runs": rows("select s.name, r.requests, r.new_articles, r.updated_articles, r.errors, r.blocked, r.status, "
                     "s.status from crawl_runs r join sources s on s.id = r.source_id"),
        "indexed": query(db, "select count(*) n from articles_fts")[0]["n"],
    }


def crawl_log(db: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted((db.parent / "logs").glob("crawl-*.log")))


def crawl_args(reg: Path, db: Path, site: Site, **settings) -> list:
    return ["crawl", "--all", "--registry", reg, "--db", db, *crawl_settings(site, **settings)]


def test_workers_archive_exactly_what_the_inline_crawl_archives(tmp_path):
    reg = registry(tmp_path / "sources.toml", [{"name": f"分流测试站{n}", "host": host, "start": "/list/index.html"}
                                                for n, host in enumerate(HOSTS)])
    with Site(mixed_site()) as site:
        results = {}
        for workers in (0, 2):
            db = tmp_path / f"workers{workers}" / "qsnews.db"
            result = run(*crawl_args(reg, db, site, QSNEWS_CLEAN_WORKERS=workers))
            assert result.returncode == 3, result.stdout + result.stderr[-2000:]  # the dead links are errors
            results[workers] = contents(db)
    assert "cleaning and archiving in 2 workers" in crawl_log(tmp_path / "workers2" / "qsnews.db")
    assert "cleaning and archiving in" not in crawl_log(tmp_path / "workers0" / "qsnews.db")
    inline, offloaded = results[0], results[2]
    assert len(inline["articles"]) == 55 and inline["indexed"] == 55
    assert {p[6] for p in inline["pages"]} == {"article", "list", "skipped", "error"}
    assert sum(len(c[4]) == 2 for c in inline["clusters"]) == 5, "the reprints were not clustered"
    for table in inline:
        assert offloaded[table] == inline[table], table


# -- killed processes -------------------------------------------------------------------------------------------

def children(pid: int) -> dict[int, str]:
    """{pid: command line} of every descendant of ``pid`` still running (zombies are not)."""
    parents, commands = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            parents[int(entry)], commands[int(entry)] = int(parent), command
    found, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return {p: commands[p] for p in found - {pid} if p in commands}


def still_running(pids) -> set[int]:
    running = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                running.add(pid)
        except OSError:
            pass
    return running


def test_killing_the_crawl_leaves_no_worker_running(tmp_path):
    reg = registry(tmp_path / "sources.toml", [{"name": "孤儿测试站", "host": HOSTS[0], "start": "/list/index.html"}])
    db = tmp_path / "qsnews.db"
    with Site(news_site(HOSTS[:1], per_host=80), delay=0.02) as site:
        process = subprocess.Popen(qsnews_command(*crawl_args(reg, db, site, QSNEWS_CLEAN_WORKERS=2)), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_for_articles(db, 10, process) >= 10
            workers = children(process.pid)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=10)
        assert sum("pipelines.offload clean" in command for command in workers.values()) == 2, workers
        assert sum("pipelines.offload write" in command for command in workers.values()) == 2, workers
        deadline = time.monotonic() + 20
        while still_running(workers) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not still_running(workers), {p: workers[p] for p in still_running(workers)}
    assert_whole(db)


def test_a_killed_worker_costs_only_the_pages_it_held(tmp_path):
    reg = registry(tmp_path / "sources.toml", [{"name": "工人测试站", "host": HOSTS[1], "start": "/list/index.html"}])
    db = tmp_path / "qsnews.db"
    with Site(news_site(HOSTS[1:], per_host=150)) as site:  # no delay: the worker falls behind, so it holds pages
        # small batches: some are committed before the kill, whatever the machine's speed
        process = subprocess.Popen(qsnews_command(*crawl_args(reg, db, site, QSNEWS_CLEAN_WORKERS=1,
                                                              QSNEWS_WRITE_BATCH=20)), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            assert wait_for_articles(db, 10, process) >= 10
            (cleaner,) = [p for p, command in children(process.pid).items() if "pipelines.offload clean" in command]
            os.kill(cleaner, signal.SIGKILL)
            _, stderr = process.communicate(timeout=120)
        finally:
            process.kill()
        assert process.returncode in (0, 3), stderr[-2000:]
        assert "its cleaner died with exit status -9" in crawl_log(db)
        first = articles(db)
        lost = query(db, "select url from pages where reason like 'cleaning worker died%'")
        assert len(first) >= 10 and len(first) + len(lost) == 150  # lost: the articles it held (if any)
        again = run(*crawl_args(reg, db, site, QSNEWS_CLEAN_WORKERS=1), "--full")  # error pages are re-fetched
        assert again.returncode == 0, again.stdout + again.stderr[-2000:]
    assert len(articles(db)) == 150
    assert_whole(db)


DIE_AFTER_COMMIT = """
import os, sys
if "write" in sys.orig_argv and "pipelines.offload" in sys.orig_argv:  # the writer: once, die right after a batch
    # of articles is committed
    from archive import store
    write = store.Archive.store_batch

    def store_batch(self, entries):
        statuses = write(self, entries)
        marker = os.environ["QSNEWS_TEST_MARKER"]
        if sum(status == "new" for status in statuses) >= 3 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(9)
        return statuses

    store.Archive.store_batch = store_batch
"""


def test_a_worker_dying_after_its_commit_leaves_its_articles_recorded_as_articles(tmp_path):
    """The crawl hears nothing of a batch its worker wrote before dying: it must not record those
    pages as lost (error) while their articles are archived, nor count them as errors."""
    marker = tmp_path / "died"
    env = hooked_env(tmp_path / "hook", DIE_AFTER_COMMIT, QSNEWS_TEST_MARKER=str(marker))
    reg = registry(tmp_path / "sources.toml", [{"name": "遗言测试站", "host": HOSTS[0], "start": "/list/index.html"}])
    db = tmp_path / "qsnews.db"
    with Site(news_site(HOSTS[:1], per_host=60)) as site:  # no delay: the worker falls behind, so it batches
        result = run(*crawl_args(reg, db, site, QSNEWS_CLEAN_WORKERS=1), env=env)
    assert marker.exists(), "the worker never died after a commit"
    assert "its writer died with exit status 9" in crawl_log(db)
    archived = {r["url"] for r in query(db, "select url from articles")}
    outcomes = {r["url"]: r["outcome"] for r in query(db, "select url, outcome from pages")}
    assert archived and all(outcomes[url] == "article" for url in archived), \
        {url: outcomes[url] for url in archived if outcomes[url] != "article"}
    errors = [url for url, outcome in outcomes.items() if outcome == "error"]
    (run_row,) = query(db, "select new_articles, errors from crawl_runs")
    assert (run_row["new_articles"], run_row["errors"]) == (len(archived), len(errors))
    assert result.returncode == (3 if errors else 0), result.stdout + result.stderr[-2000:]
    assert_whole(db)

