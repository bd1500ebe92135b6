"""The store's cache of reprint candidates' index rows (archive.signature_cache): read from memory, never stale.

Each staleness test stores a story, lets something rewrite its index row behind the cache (another
connection, a rollback, a rebuild, a write through no cache), then stores a reprint of the row's new
text: with a stale row it would be judged against the old text and left out of the cluster.
"""
import random
import sqlite3

import pytest

from archive import cluster_rebuild, clusters, versions
from archive import store as store_module
from archive.signature_cache import SignatureCache
from archive.store import Archive
from test_clusters import ELEVATORS, S2T, UNIFORMS_XIANGYANG, UNIFORMS_XIANNING

ELEVATOR_STORY = "\n".join(ELEVATORS)
UNIFORM_STORY = "\n".join(UNIFORMS_XIANNING)
UNIFORM_REPRINT = S2T.convert("\n".join(UNIFORMS_XIANNING[1:]))  # a portal's copy: other script, lead cut


def page(url: str, source_id: int, outcome: str = "article") -> dict:
    return {"url": url, "source_id": source_id, "fetched_at": "2024-06-01T10:00:00+08:00", "outcome": outcome}


def opened(path) -> tuple[Archive, int]:
    archive = Archive(path)
    return archive, archive.upsert_source({"name": "咸宁市市场监督管理局", "kind": "bureau", "level": "prefecture"})


def store(archive, source_id, url, body, outcome="article"):
    return archive.store_batch([({"url": url, "body": body}, page(url, source_id, outcome))])[0]


def cluster_of(archive, url):
    return archive.conn.execute("SELECT cluster_id FROM articles WHERE url = ?", (url,)).fetchone()[0]


def test_candidates_come_from_memory(tmp_path):
    archive, sid = opened(tmp_path / "a.db")
    store(archive, sid, "http://a/1", UNIFORM_STORY)
    read = []
    archive.conn.set_trace_callback(read.append)
    store(archive, sid, "http://a/2", UNIFORM_REPRINT)
    assert cluster_of(archive, "http://a/2") == cluster_of(archive, "http://a/1")
    assert not [sql for sql in read if sql.startswith("SELECT article_id, shingles, signature FROM article_minhash")]


def test_another_connections_commit_empties_the_cache(tmp_path):
    (first, sid), (second, _) = opened(tmp_path / "a.db"), opened(tmp_path / "a.db")
    store(first, sid, "http://a/1", ELEVATOR_STORY)
    assert store(second, sid, "http://a/1", UNIFORM_STORY) == "updated"  # rewrites the row first has cached
    store(first, sid, "http://a/2", UNIFORM_REPRINT)
    assert cluster_of(first, "http://a/2") == cluster_of(first, "http://a/1")


def fail_after_clustering(archive, sid, url, body, how, monkeypatch):
    """Store ``url`` and fail after its clustering: its page fails (the batch is rolled back, then the entry
    alone, to a savepoint); ``upsert_article``'s transaction is given up as on a full disk; or SQLite gives
    up a whole batch, after a copy of the article (which read its row as a candidate) in the same batch."""
    if how == "savepoint":
        assert isinstance(store(archive, sid, url, body, "nonsense"), sqlite3.IntegrityError)
        return
    with monkeypatch.context() as patched:
        if how == "transaction":
            patched.setattr(versions, "record_version", full_disk)
            with pytest.raises(sqlite3.OperationalError):
                archive.upsert_article({"url": url, "body": body}, sid, "2024-06-02T10:00:00+08:00")
            return
        record_page = store_module._record_page
        patched.setattr(store_module, "_record_page", lambda conn, row: full_disk(conn) if row["url"] == "http://a/copy"
                        else record_page(conn, row))
        with pytest.raises(sqlite3.OperationalError):
            archive.store_batch([({"url": u, "body": body}, page(u, sid)) for u in (url, "http://a/copy")])


def full_disk(conn=None, *args):
    if conn is not None:
        conn.execute("ROLLBACK")  # what SQLite does itself on a full disk
    raise sqlite3.OperationalError("database or disk is full")


ROUTES = ["savepoint", "transaction", "batch"]


@pytest.mark.parametrize("how", ROUTES)
def test_a_rolled_back_update_leaves_no_row_in_the_cache(tmp_path, monkeypatch, how):
    archive, sid = opened(tmp_path / "a.db")
    store(archive, sid, "http://a/1", UNIFORM_STORY)
    fail_after_clustering(archive, sid, "http://a/1", ELEVATOR_STORY, how, monkeypatch)
    store(archive, sid, "http://a/2", UNIFORM_REPRINT)
    assert cluster_of(archive, "http://a/2") == cluster_of(archive, "http://a/1")


@pytest.mark.parametrize("how", ROUTES)
def test_an_id_rolled_back_then_reused_gets_the_new_row(tmp_path, monkeypatch, how):
    archive, sid = opened(tmp_path / "a.db")
    store(archive, sid, "http://a/0", "\n".join(UNIFORMS_XIANGYANG))
    fail_after_clustering(archive, sid, "http://a/1", ELEVATOR_STORY, how, monkeypatch)
    store(archive, sid, "http://a/2", UNIFORM_STORY)
    ids = dict(archive.conn.execute("SELECT url, id FROM articles"))
    assert ids["http://a/2"] == ids["http://a/0"] + 1  # the rolled-back article's id, reused
    store(archive, sid, "http://a/3", UNIFORM_REPRINT)
    assert cluster_of(archive, "http://a/3") == cluster_of(archive, "http://a/2")


def rewrite_body(archive, url, body):
    archive.conn.execute("UPDATE articles SET body = ?, body_simplified = ? WHERE url = ?", (body, body, url))
    return archive.conn.execute("SELECT id FROM articles WHERE url = ?", (url,)).fetchone()[0]


def test_a_rebuild_on_the_same_connection_empties_the_cache(tmp_path):
    archive, sid = opened(tmp_path / "a.db")
    store(archive, sid, "http://a/1", ELEVATOR_STORY)
    rewrite_body(archive, "http://a/1", UNIFORM_STORY)
    cluster_rebuild.rebuild(archive.conn)
    store(archive, sid, "http://a/2", UNIFORM_REPRINT)
    assert cluster_of(archive, "http://a/2") == cluster_of(archive, "http://a/1")


def test_clustering_through_no_cache_on_the_same_connection_empties_it(tmp_path):
    archive, sid = opened(tmp_path / "a.db")
    store(archive, sid, "http://a/1", ELEVATOR_STORY)
    clusters.assign_cluster(archive.conn, rewrite_body(archive, "http://a/1", UNIFORM_STORY))
    store(archive, sid, "http://a/2", UNIFORM_REPRINT)
    assert cluster_of(archive, "http://a/2") == cluster_of(archive, "http://a/1")


def test_one_cache_on_two_databases_keeps_them_apart(tmp_path):
    """The same ids in two archives, other stories: a cache moved between connections starts empty."""
    cache = SignatureCache()
    (first, sid), (second, _) = opened(tmp_path / "a.db"), opened(tmp_path / "b.db")
    for archive, body in ((first, UNIFORM_STORY), (second, ELEVATOR_STORY)):
        archive._signatures = cache
        store(archive, sid, "http://a/1", body)
    store(first, sid, "http://a/2", UNIFORM_REPRINT)
    assert cluster_of(first, "http://a/2") == cluster_of(first, "http://a/1")


def stories(rng: random.Random, count: int) -> list[str]:
    """Bodies drawn from a few stories, cut and mixed: many candidates, reprints and near misses."""
    pool = [UNIFORMS_XIANNING, UNIFORMS_XIANGYANG, ELEVATORS]
    bodies = []
    for _ in range(count):
        lines = rng.choice(pool)
        start = rng.randrange(len(lines) - 2)
        bodies.append("\n".join(lines[start:start + rng.randint(2, len(lines))]
                                + rng.sample(UNIFORMS_XIANGYANG + ELEVATORS, rng.randint(0, 2))))
    return bodies


def test_a_small_cache_stays_within_its_bound_and_clusters_as_no_cache(tmp_path, monkeypatch):
    """Inserts, updates and failing entries, with a cache of 5 rows (emptied when full; more candidates than
    that are read without it) and with none: the same clusters."""
    rng = random.Random(11)
    entries = [(f"http://a/{rng.randrange(25)}", body, "nonsense" if rng.random() < 0.1 else "article")
               for body in stories(rng, 80)]
    small = SignatureCache(capacity=5)
    states = []
    for name, cache in (("cached.db", small), ("uncached.db", None)):
        archive, sid = opened(tmp_path / name)
        monkeypatch.setattr(archive, "_signature_cache", lambda cache=cache: cache)
        for start in range(0, len(entries), 4):
            archive.store_batch([({"url": url, "body": body}, page(url, sid, outcome))
                                 for url, body, outcome in entries[start:start + 4]])
            assert len(small._slots) <= small._used <= 5
        states.append([tuple(r) for r in archive.conn.execute(
            "SELECT a.url, c.* FROM articles a JOIN clusters c ON c.id = a.cluster_id ORDER BY a.id")])
    assert states[0] == states[1]
    assert max(r[3] for r in states[0]) > 5  # some clusters bigger than the cache
