"""The index rows (sampled shingle count, MinHash signature) of a new article's reprint candidates.

``archive.clusters`` compares each new article with the ~100–220 stored articles sharing an LSH
bucket with it (10k-article archive).  Without a cache one statement reads their ``article_minhash``
rows; with a ``SignatureCache`` only their ids are read from ``lsh_bands`` and the rows come from
memory: ≈ 0.37 → 0.23 ms an article at 10k articles (~3% of a worker's store CPU over the first 10k
articles, whose early ones have fewer candidates).  ``archive.store.Archive`` owns one cache for its
connection and passes it to ``clusters.assign_cluster``.

A cached row is never stale:

- ``clusters`` puts and drops the rows it writes and deletes itself;
- another connection's commit changes ``PRAGMA data_version``: the cache is emptied;
- a rollback (whole, or to a savepoint) may undo rows it holds, and the next insert may then reuse
  their ids with other signatures.  ``sync``, at the start of every ``assign_cluster``, writes a fresh
  token to a TEMP table inside the caller's transaction: a rollback that undoes a row cached since
  undoes that token too, and the mismatch empties the cache;
- writes to the index through no cache (``cluster_rebuild``, ``assign_cluster`` without one) ``forget``
  the connection's token.

Tokens are unique in the process, so a cache used on another connection or database finds no token of
its own there and starts empty: nothing leaks across connections, even when ``id(conn)`` is reused.
"""
from __future__ import annotations

import sqlite3
from itertools import count

import numpy as np

from archive.neardup import BANDS, NUM_PERM

# Bound: ~500 B a row (the 384 B signature, its count, a dict entry), so ≤ ~15 MB in a process that writes
# articles (~19 MB for a moment as the arrays grow to full; ~7 MB at 10k articles).  A full cache is emptied
# wholesale: the next candidates are read again.  Under SQLite's 32,766 parameters of one statement.
CAPACITY = 30_000

# The ids of the articles sharing a bucket with a signature, once per band shared (for a cache) ...
_CANDIDATE_IDS_SQL = " UNION ALL ".join(["SELECT article_id FROM lsh_bands WHERE band = ? AND bucket = ?"] * BANDS)
# ... and their index rows, in one statement (``IN`` drops repeats).
_CANDIDATE_ROWS_SQL = ("SELECT article_id, shingles, signature FROM article_minhash"
                       f" WHERE article_id IN ({_CANDIDATE_IDS_SQL})")

_TABLE = "temp.qsnews_signature_cache"
_SYNC_SQL = f"UPDATE {_TABLE} SET token = ? WHERE token = ? AND (SELECT data_version FROM pragma_data_version) = ?"
_TOKENS = count(1)


def rows_in(conn, select: str, ids: list[int]) -> list[tuple]:
    """The rows of ``select`` (which ends in ``IN``) for ``ids``, in one statement; none for no ids."""
    return conn.execute(f"{select} ({','.join('?' * len(ids))})", ids).fetchall() if ids else []


def candidates(conn, keys: list[bytes], cache: SignatureCache | None) -> tuple:
    """(ids, sampled shingle counts, signatures as one array) of the indexed articles sharing a bucket with
    ``keys`` (``neardup.band_keys``), by id."""
    params = [v for band, key in enumerate(keys) for v in (band, key)]
    if cache is not None:
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples: the store's sqlite3.Row costs more than the rest of the read
        ids = sorted({row[0] for row in cursor.execute(_CANDIDATE_IDS_SQL, params)})
        if len(ids) <= cache.capacity:
            return cache.rows(conn, ids)
    loaded = conn.execute(_CANDIDATE_ROWS_SQL, params).fetchall()  # no cache, or more than it can hold
    return [r[0] for r in loaded], [r[1] for r in loaded], _signatures([r[2] for r in loaded])


def _signatures(blobs: list[bytes]) -> np.ndarray:
    """Stored signatures as one (len(blobs), NUM_PERM) array."""
    joined = b"".join(blobs)
    if len(joined) == 4 * NUM_PERM * len(blobs):
        return np.frombuffer(joined, dtype="<u4").reshape(len(blobs), NUM_PERM)
    return np.stack([np.frombuffer(blob, dtype="<u4") for blob in blobs])  # malformed rows fail as they did


def forget(conn) -> None:
    """Empty, at its next ``sync``, whichever cache holds rows of ``conn``: for writes to the index that
    go through none (part of the caller's transaction, like the writes)."""
    try:
        conn.execute(f"DELETE FROM {_TABLE}")
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise


class SignatureCache:
    """``article_minhash`` rows (shingles, signature) by article id, for one connection: see the module."""

    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._token = self._version = None
        self._empty()

    def _empty(self) -> None:
        self._slots: dict[int, int] = {}  # article id -> row of the arrays
        self._used = 0  # rows of the arrays taken (a dropped id's stays taken until the cache is emptied)
        self._shingles = np.empty(0, dtype=np.int64)
        self._sigs = np.empty((0, NUM_PERM), dtype=np.uint32)  # grown by doubling, up to the capacity

    def sync(self, conn) -> None:
        """Empty the cache if ``conn``'s index may have changed since its last ``sync``, and mark the open
        transaction with a fresh token.  Call inside the transaction, before reading the index."""
        token = next(_TOKENS)
        try:
            if conn.execute(_SYNC_SQL, (token, self._token, self._version)).rowcount == 1:
                self._token = token
                return
        except sqlite3.OperationalError as exc:  # rolled back with the transaction that created it
            if "no such table" not in str(exc):
                raise
        self._empty()
        conn.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (token INTEGER)")
        conn.execute(f"DELETE FROM {_TABLE}")
        conn.execute(f"INSERT INTO {_TABLE} (token) VALUES (?)", (token,))
        self._token, self._version = token, conn.execute("PRAGMA data_version").fetchone()[0]

    def put(self, article_id: int, shingles: int, signature: bytes) -> None:
        """Cache the row (as stored) just written or read for ``article_id``."""
        if article_id not in self._slots:
            if self._used == self.capacity:
                self._empty()
            if self._used == len(self._sigs):
                self._grow(min(self.capacity, max(1024, 2 * self._used)))
            self._slots[article_id] = self._used
            self._used += 1
        slot = self._slots[article_id]
        self._shingles[slot] = shingles
        self._sigs[slot] = np.frombuffer(signature, dtype="<u4")

    def _grow(self, size: int) -> None:
        sigs, shingles = np.empty((size, NUM_PERM), dtype=np.uint32), np.empty(size, dtype=np.int64)
        sigs[: self._used], shingles[: self._used] = self._sigs[: self._used], self._shingles[: self._used]
        self._sigs, self._shingles = sigs, shingles

    def drop(self, article_id: int) -> None:
        """Forget the row of ``article_id``, just deleted."""
        self._slots.pop(article_id, None)

    def rows(self, conn, ids: list[int]) -> tuple:
        """``candidates``' answer for ``ids`` (sorted, at most ``capacity``): rows not cached are read in one
        statement, and cached."""
        missing = [i for i in ids if i not in self._slots]
        if missing:
            if self._used + len(missing) > self.capacity:
                self._empty()
                missing = ids
            read = rows_in(conn, "SELECT article_id, shingles, signature FROM article_minhash WHERE article_id IN",
                           missing)
            for article_id, shingles, signature in read:
                self.put(article_id, shingles, signature)
            ids = [i for i in ids if i in self._slots]  # those not indexed (no article_minhash row) drop out
        slots = [self._slots[i] for i in ids]
        return ids, self._shingles[slots], self._sigs[slots]

