"""Reprint clusters: the same story on the bureau site, SAMR 地方动态, portals and mirrors.

Every article belongs to one cluster (``articles.cluster_id``); a cluster row names
its original (``canonical_article_id``: earliest published, the bureau preferred
over portals and mirrors), its size, first publication and the sources that
carried it.  ``archive.neardup`` decides which texts are reprints of each other;
verified pairs are joined (union), so a chain of reprints of reprints lands in one
cluster, and an article matching two clusters merges them.

The LSH index lives in SQLite (``lsh_bands``, one row per article and band) so
that adding an article is BANDS primary-key lookups plus its candidates: the cost
grows with how many stored articles resemble it, not with the archive's size as
such.  Reading the candidates' index rows is a large part of that cost (~100–220
of them an article at 10k articles): the store keeps them in memory
(``archive.signature_cache``, bounded) and then reads only their ids.  ``archive.cluster_rebuild.rebuild``
recomputes everything in bulk.

The store calls ``assign_cluster(conn, article_id, signatures)`` after storing a new article
or changing one, inside its own transaction (both join an open one); ``cluster_rebuild.rebuild(conn)``
after a change of ``archive.neardup``'s constants or to repair.

Schema additions (the store's migration should own them; ``ensure_tables``
creates them meanwhile)::

    ALTER TABLE articles ADD COLUMN cluster_id INTEGER;
    CREATE INDEX IF NOT EXISTS articles_cluster_id ON articles(cluster_id);
    CREATE TABLE IF NOT EXISTS clusters (
        id INTEGER PRIMARY KEY,
        canonical_article_id INTEGER,
        size INTEGER NOT NULL,
        first_published_at TEXT,    -- earliest published_at of its members
        source_names TEXT           -- distinct source names, comma-joined, the original's first
    );
    CREATE TABLE IF NOT EXISTS article_minhash (
        article_id INTEGER PRIMARY KEY,
        shingles INTEGER NOT NULL,  -- sampled distinct shingles, for containment
        signature BLOB NOT NULL,    -- neardup.NUM_PERM (96) MinHash values, little-endian uint32
        sample BLOB                 -- the sampled shingles, sorted little-endian uint32 (NULL: written before
                                    -- schema version 9, then the text is compared instead)
    );
    CREATE TABLE IF NOT EXISTS lsh_bands (
        band INTEGER NOT NULL,
        bucket BLOB NOT NULL,       -- the band's neardup.ROWS (3) values, little-endian uint32
        article_id INTEGER NOT NULL,
        PRIMARY KEY (band, bucket, article_id)
    ) WITHOUT ROWID;
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import numpy as np

from archive.neardup import (
    ACCEPT, CHECK, MIN_SHINGLES, REJECT, RecentSets, band_keys, ruled_out, same_story, shingle_sets, signature,
    triage,
)
from archive.signature_cache import SignatureCache, candidates, forget, rows_in

KIND_RANK = {"bureau": 0, "portal": 1, "mirror": 2}

DDL = [
    "CREATE INDEX IF NOT EXISTS articles_cluster_id ON articles(cluster_id)",
    """CREATE TABLE IF NOT EXISTS clusters (
        id INTEGER PRIMARY KEY, canonical_article_id INTEGER, size INTEGER NOT NULL,
        first_published_at TEXT, source_names TEXT)""",
    """CREATE TABLE IF NOT EXISTS article_minhash (
        article_id INTEGER PRIMARY KEY, shingles INTEGER NOT NULL, signature BLOB NOT NULL, sample BLOB)""",
    """CREATE TABLE IF NOT EXISTS lsh_bands (
        band INTEGER NOT NULL, bucket BLOB NOT NULL, article_id INTEGER NOT NULL,
        PRIMARY KEY (band, bucket, article_id)) WITHOUT ROWID""",
]



def _conn(db) -> sqlite3.Connection:
    return getattr(db, "conn", db)


@contextmanager
def _transaction(conn):
    """Join the caller's open transaction, else run in our own (autocommit connections included)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


# One query saying whether everything ensure_tables makes is there already (6 when it is): cheaper than the
# column lists plus four no-op DDL statements.
_ALL_THERE_SQL = """SELECT (SELECT count(*) FROM pragma_table_info('articles') WHERE name = 'cluster_id')
    + (SELECT count(*) FROM pragma_table_info('article_minhash') WHERE name = 'sample')
    + (SELECT count(*) FROM sqlite_master WHERE (type, name) IN (VALUES ('index', 'articles_cluster_id'),
       ('table', 'clusters'), ('table', 'article_minhash'), ('table', 'lsh_bands')))"""


# assign_cluster runs ensure_tables for every article, so a connection remembers its check: it answers this
# with the schema version it saw then (a per-connection SQL function: sqlite3 connections take no attributes
# or weak references).  Any schema change, or a rollback of the tables' creation, brings the full check back.
_CHECKED_SQL = "SELECT qsnews_cluster_tables_checked() = schema_version FROM pragma_schema_version"


def ensure_tables(db) -> None:
    """Create the cluster tables and ``articles.cluster_id`` (the articles table must exist)."""
    conn = _conn(db)
    try:
        if conn.execute(_CHECKED_SQL).fetchone()[0]:
            return
    except sqlite3.OperationalError:  # no such function: not checked on this connection yet
        pass
    if conn.execute(_ALL_THERE_SQL).fetchone()[0] != 6:
        _create_tables(conn)
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.create_function("qsnews_cluster_tables_checked", 0, lambda: version)


def _create_tables(conn) -> None:
    _add_column(conn, "articles", "cluster_id INTEGER")
    for statement in DDL:
        conn.execute(statement)
    _add_column(conn, "article_minhash", "sample BLOB")  # index rows written before schema version 9 lack it


def _add_column(conn, table: str, column: str) -> None:
    if column.split()[0] in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
        return
    try:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    except sqlite3.OperationalError as exc:  # another writer added it first
        if "duplicate column" not in str(exc):
            raise


def _article_shingles(body: str | None, body_simplified: str | None) -> np.ndarray:
    """The shingles of an article: of ``body_simplified``, or of ``body`` when that is missing."""
    return _shingle_articles([(body, body_simplified)])[0]


def _shingle_articles(texts: list[tuple], shingler=shingle_sets) -> list[np.ndarray]:
    """``_article_shingles`` of several (body, body_simplified) pairs, in one pass."""
    return shingler([simplified or body or "" for body, simplified in texts], [bool(s) for _, s in texts])


# Sets of candidates compared recently: a story on a popular template is a candidate of many new articles.
_RECENT = RecentSets(4 << 20)


# The text to shingle, as stored: whichever of body / body_simplified _article_shingles reads.
_TEXT_SQL = "CASE WHEN COALESCE(body_simplified, '') = '' THEN body END, body_simplified"


def _canonical(members: list[dict]) -> dict:
    """The original among reprints: earliest day; the bureau wins ties and undated pages.

    Reprints are usually dated the same day as the original (portals copy within
    hours, and pages round times differently), so days are compared, not times.
    An undated page competes with the earliest dated ones: the source kind decides.
    """
    days = [m["published_at"][:10] for m in members if m["published_at"]]
    first_day = min(days) if days else None
    eligible = [m for m in members if not m["published_at"] or m["published_at"][:10] == first_day]
    return min(
        eligible,
        key=lambda m: (KIND_RANK.get(m["kind"], 3), m["published_at"] is None, m["published_at"] or "", m["id"]),
    )


def _summary(members: list[dict]) -> dict:
    canonical = _canonical(members)
    dated = sorted(members, key=lambda m: (m["published_at"] is None, m["published_at"] or "", m["id"]))
    names = []
    for m in [canonical] + dated:
        if m["name"] and m["name"] not in names:
            names.append(m["name"])
    return {
        "canonical_article_id": canonical["id"],
        "size": len(members),
        "first_published_at": dated[0]["published_at"],
        "source_names": ",".join(names),
    }


_MEMBER_SQL = """
    SELECT a.id, a.published_at, s.kind, COALESCE(s.name, a.source_name)
    FROM articles a LEFT JOIN sources s ON s.id = a.source_id
"""


def _member(row) -> dict:
    return {"id": row[0], "published_at": row[1], "kind": row[2], "name": row[3]}


def _refresh_cluster(conn, cluster_id: int) -> None:
    """Recompute a cluster row from its members (cost: the cluster's size, not the archive's)."""
    members = [_member(r) for r in conn.execute(_MEMBER_SQL + " WHERE a.cluster_id = ?", (cluster_id,))]
    if not members:
        conn.execute("DELETE FROM clusters WHERE id = ?", (cluster_id,))
        return
    s = _summary(members)
    conn.execute(
        "INSERT OR REPLACE INTO clusters (id, canonical_article_id, size, first_published_at, source_names)"
        " VALUES (?, ?, ?, ?, ?)",
        (cluster_id, s["canonical_article_id"], s["size"], s["first_published_at"], s["source_names"]),
    )


def _new_cluster(conn) -> int:
    return conn.execute("INSERT INTO clusters (size) VALUES (0)").lastrowid


class _Texts:
    """Exact shingle sets of stored articles, read only when a MinHash estimate is not conclusive."""

    def __init__(self, conn):
        self.conn, self.cache = conn, {}

    def __getitem__(self, article_id: int) -> np.ndarray:
        if article_id not in self.cache:
            row = self.conn.execute(f"SELECT {_TEXT_SQL} FROM articles WHERE id = ?", (article_id,)).fetchone()
            self.cache[article_id] = _article_shingles(*row) if row else np.empty(0, dtype=np.uint32)
        return self.cache[article_id]


def _load_signatures(conn, ids: list[int]) -> list[tuple[int, int, np.ndarray, bytes | None]]:
    """(article_id, sampled shingles, signature, sample) of indexed articles among ``ids``."""
    rows = rows_in(conn, "SELECT article_id, shingles, signature, sample FROM article_minhash WHERE article_id IN",
                    ids)
    return [(r[0], r[1], np.frombuffer(r[2], dtype="<u4"), r[3]) for r in rows]


def _rule_out(codes: list[int], own: np.ndarray, samples: list[np.ndarray | None]) -> list[int]:
    """``codes`` with the CHECK pairs that the samples rule out (``neardup.ruled_out``) turned to REJECT;
    ``samples[k]`` is the candidate's sample, None for an index row without one (its text is compared)."""
    unsure = [k for k, code in enumerate(codes) if code == CHECK and samples[k] is not None]
    if unsure:
        for k, out in zip(unsure, ruled_out(own, [samples[k] for k in unsure]).tolist()):
            if out:
                codes[k] = REJECT
    return codes


def _sample(blob: bytes | None) -> np.ndarray | None:
    """A stored sample as an array (None: an index row written before schema version 9)."""
    return None if blob is None else np.frombuffer(blob, dtype="<u4")


def _stored_samples(conn, ids: list[int]) -> dict[int, bytes | None]:
    """The stored samples of those of ``ids`` that are indexed (read apart from the signatures: only the few
    candidates a signature leaves unsure need one)."""
    return dict(rows_in(conn, "SELECT article_id, sample FROM article_minhash WHERE article_id IN", ids))


def _articles(conn, columns: str, ids: list[int]) -> list[tuple]:
    """``columns`` of those of ``ids`` that are articles (``cluster_id`` comes after the text in the row, so
    reading it walks through the text's overflow pages: asked only for candidates a signature does not rule out)."""
    return rows_in(conn, f"SELECT {columns} FROM articles WHERE id IN", ids)


def _unindex(conn, article_id: int, old_cluster: int | None, old_signature: bytes | None,
             signatures: SignatureCache | None) -> None:
    """Take an article out of the index and out of its cluster.

    The remaining members are re-joined among themselves, because the article may
    have been the only bridge between two groups: those then become two clusters.
    Cost: the square of the cluster's size, never the archive's.  ``old_cluster`` and
    ``old_signature`` are the article's ``cluster_id`` and index row as the caller read them;
    ``signatures``, the connection's cache if any.
    """
    if old_signature is not None:
        keys = band_keys(np.frombuffer(old_signature, dtype="<u4"))
        conn.executemany(
            "DELETE FROM lsh_bands WHERE band = ? AND bucket = ? AND article_id = ?",
            [(b, key, article_id) for b, key in enumerate(keys)],
        )
        conn.execute("DELETE FROM article_minhash WHERE article_id = ?", (article_id,))
        if signatures is not None:
            signatures.drop(article_id)
    if old_cluster is None:
        return  # in no cluster (a new article): nothing to leave, and no row to rewrite
    conn.execute("UPDATE articles SET cluster_id = NULL WHERE id = ?", (article_id,))
    rest = [r[0] for r in conn.execute("SELECT id FROM articles WHERE cluster_id = ?", (old_cluster,))]
    loaded = _load_signatures(conn, rest)
    if len(loaded) > 1:
        texts, edges = _Texts(conn), []
        sigs = np.stack([sig for _, _, sig, _ in loaded])
        sizes = np.array([n for _, n, _, _ in loaded])
        samples = [_sample(blob) for _, _, _, blob in loaded]
        for i in range(len(loaded) - 1):
            codes = triage(sigs[i], sizes[i], sigs[i + 1 :], sizes[i + 1 :]).tolist()
            if samples[i] is not None:
                codes = _rule_out(codes, samples[i], samples[i + 1 :])
            for offset, code in enumerate(codes):
                k = i + 1 + offset
                if code == ACCEPT or code == CHECK and same_story(texts[loaded[i][0]], texts[loaded[k][0]]):
                    edges.append((i, k))
        labels = np.array(_parts(len(loaded), edges))
        keep = np.bincount(labels).argmax()  # the largest part keeps the id
        for label in set(labels.tolist()) - {keep}:
            new_id = _new_cluster(conn)
            ids = [loaded[i][0] for i in np.flatnonzero(labels == label)]
            conn.executemany("UPDATE articles SET cluster_id = ? WHERE id = ?", [(new_id, a) for a in ids])
            _refresh_cluster(conn, new_id)
    # members without a signature row (never indexed) simply stay where they were
    _refresh_cluster(conn, old_cluster)


def assign_cluster(db, article_id: int, signatures: SignatureCache | None = None) -> int:
    """Put a newly stored or updated article into its cluster and return the cluster id.

    Call after every article insert, and after every update of its body or of the
    fields the cluster row shows (published_at, source).  Cost: BANDS index
    lookups, the candidates' signatures (and texts, when estimates are not
    conclusive), and the members of the clusters it touches.  ``signatures``:
    the connection's cache of index rows, the same one for every call on it
    (``archive.signature_cache``); without one the rows are read each time.
    """
    conn = _conn(db)
    ensure_tables(conn)
    with _transaction(conn):
        if signatures is None:
            forget(conn)  # the index may change under a cache this connection has elsewhere
        else:
            signatures.sync(conn)
        row = conn.execute(f"SELECT {_TEXT_SQL}, cluster_id, m.signature, m.sample IS NULL FROM articles"
                           " LEFT JOIN article_minhash m ON m.article_id = id WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise KeyError(f"no article {article_id}")
        fingerprints = _article_shingles(row[0], row[1])
        sig, own = signature(fingerprints)
        if row[2] is not None and row[3] is not None and row[3] == sig.astype("<u4").tobytes():
            if row[4]:  # indexed before schema version 9
                conn.execute("UPDATE article_minhash SET sample = ? WHERE article_id = ?",
                             (own.astype("<u4").tobytes(), article_id))
            _refresh_cluster(conn, row[2])  # same text: dates or sources may still have changed
            return row[2]
        _unindex(conn, article_id, row[2], row[3], signatures)
        return _index(conn, article_id, fingerprints, sig, own, signatures)


def _index(conn, article_id: int, fingerprints: np.ndarray, sig: np.ndarray, own: np.ndarray,
           signatures: SignatureCache | None) -> int:
    """Index a new or changed article and join it to its cluster; ``own`` is its sample (``neardup.signature``)."""
    n, blob = len(own), sig.astype("<u4").tobytes()
    conn.execute("INSERT INTO article_minhash (article_id, shingles, signature, sample) VALUES (?, ?, ?, ?)",
                 (article_id, n, blob, own.astype("<u4").tobytes()))
    if signatures is not None:
        signatures.put(article_id, n, blob)
    clusters: set[int] = set()
    if n >= MIN_SHINGLES:
        keys = band_keys(sig)
        ids, sizes, sigs = candidates(conn, keys, signatures)
        if ids:
            codes = triage(sig, n, sigs, sizes).tolist()
            stored = _stored_samples(conn, [i for i, code in zip(ids, codes) if code == CHECK])
            codes = _rule_out(codes, own, [_sample(stored.get(i)) if code == CHECK else None
                                           for i, code in zip(ids, codes)])
            # Triage rows are independent, so index rows of deleted articles may take part; they get no cluster.
            sure = [i for i, code in zip(ids, codes) if code == ACCEPT]
            clusters = {c for _, c in _articles(conn, "id, cluster_id", sure) if c is not None}
            unsure = [i for i, code in zip(ids, codes) if code == CHECK]
            clusters |= _verified(fingerprints, _articles(conn, f"cluster_id, {_TEXT_SQL}", unsure), clusters)
        conn.executemany("INSERT INTO lsh_bands (band, bucket, article_id) VALUES (?, ?, ?)",
                         [(b, key, article_id) for b, key in enumerate(keys)])
    if not clusters:
        cluster_id = _new_cluster(conn)
    else:
        sizes = {c: conn.execute("SELECT size FROM clusters WHERE id = ?", (c,)).fetchone()[0] for c in clusters}
        cluster_id = min(clusters, key=lambda c: (-sizes[c], c))  # relabel the smaller ones
        for other in clusters - {cluster_id}:
            conn.execute("UPDATE articles SET cluster_id = ? WHERE cluster_id = ?", (cluster_id, other))
            conn.execute("DELETE FROM clusters WHERE id = ?", (other,))
    conn.execute("UPDATE articles SET cluster_id = ? WHERE id = ?", (cluster_id, article_id))
    _refresh_cluster(conn, cluster_id)
    return cluster_id


def _verified(fingerprints: np.ndarray, rows: list[tuple], matched: set[int]) -> set[int]:
    """The clusters, besides ``matched``, with a member among ``rows`` (cluster_id, texts) that is the same
    story as ``fingerprints``.  Rounds of one member per cluster, shingled together: a cluster's other
    members are read only when the first is not a match."""
    queues: dict[int, list[tuple]] = {}
    for row in rows:
        if row[0] is not None and row[0] not in matched:
            queues.setdefault(row[0], []).append(row)
    found = set()
    while queues:
        batch = [(cluster, members.pop()) for cluster, members in queues.items()]
        for (cluster, _), other in zip(batch, _shingle_articles([row[1:] for _, row in batch], _RECENT)):
            if same_story(fingerprints, other):
                found.add(cluster)
        queues = {c: members for c, members in queues.items() if members and c not in found}
    return found


def _parts(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """``cluster_rebuild._components``' labels for a small graph, without scipy (~50 MB) in the process that
    stores articles: union-find, parts numbered in the order of their first node, as scipy numbers them."""
    parent = list(range(count))

    def root(node):
        while parent[node] != node:
            parent[node] = node = parent[parent[node]]
        return node

    for i, k in edges:
        parent[root(i)] = root(k)
    numbers: dict[int, int] = {}
    return [numbers.setdefault(root(node), len(numbers)) for node in range(count)]
