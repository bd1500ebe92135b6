"""The full recomputation of reprint clusters: signatures, the LSH index and every cluster, in bulk.

``archive.clusters`` keeps clusters current one article at a time; this rebuilds
them from scratch, after a change of ``archive.neardup``'s constants, to repair an
archive, or to fill what a migration added (schema versions 5 and 9).  It finds
candidate pairs per LSH band by sorting instead of index lookups and decides
pairs exactly as the incremental path does (triage, samples, texts), so both
give the same clusters.
"""
from __future__ import annotations

from itertools import repeat

import numpy as np

from archive.clusters import (
    _MEMBER_SQL,
    _TEXT_SQL,
    _article_shingles,
    _conn,
    _member,
    _summary,
    _transaction,
    assign_cluster,
    ensure_tables,
)
from archive.neardup import (
    ACCEPT,
    BANDS,
    CHECK,
    MIN_SHINGLES,
    NUM_PERM,
    REJECT,
    ROWS,
    ruled_out_pairs,
    same_story,
    signature,
    triage,
)
from archive.signature_cache import forget

BIG_BUCKET = 32  # all pairs of a smaller bucket are verified, a star and a chain of a bigger one


def _components(count: int, edges: np.ndarray) -> tuple[int, np.ndarray]:
    from scipy.sparse import coo_matrix  # only a full rebuild needs it (~50 MB)
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)


def _buckets(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one band (``values``: count x ROWS uint32) in bucket order, and where each bucket starts.

    The order is that of the stored blobs (bytes of little-endian values, compared
    as SQLite compares BLOBs), so the rebuild can append to the index in order.
    """
    swapped = values.byteswap()  # numeric order of byte-swapped values = byte order of the blob
    order = np.lexsort([swapped[:, r] for r in reversed(range(values.shape[1]))])
    ordered = swapped[order]
    first = np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)] if len(order) else np.empty(0, dtype=bool)
    return order, first


def _candidate_pairs(order: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Pairs of rows sharing a bucket, from ``_buckets``, vectorised.

    Buckets up to BIG_BUCKET give all their pairs; a bigger bucket (hundreds of copies
    of one notice) gives a star from its first member and a chain, enough for union.
    """
    count = len(order)
    starts = np.flatnonzero(first)
    run = np.cumsum(first) - 1
    start_at = starts[run]
    length_at = np.diff(np.r_[starts, count])[run]
    positions = np.arange(count)
    pairs = []
    small = positions[(length_at > 1) & (length_at <= BIG_BUCKET)]
    for step in range(1, BIG_BUCKET):
        small = small[small + step < start_at[small] + length_at[small]]
        if not len(small):
            break
        pairs.append(np.stack([order[small], order[small + step]], axis=1))
    big = positions[(length_at > BIG_BUCKET) & ~first]
    pairs.append(np.stack([order[start_at[big]], order[big]], axis=1))
    pairs.append(np.stack([order[big - 1], order[big]], axis=1))
    return np.concatenate(pairs)


def rebuild(db) -> int:
    """Recompute signatures, the LSH index and every cluster from scratch; return the cluster count.

    Articles are read outside the write transaction so a running crawl is not
    locked out for the whole computation; articles stored meanwhile are then
    clustered one by one.  (An article *updated* meanwhile keeps the text read
    first until its next ``assign_cluster``.)
    """
    conn = _conn(db)
    ensure_tables(conn)
    # body only where body_simplified is missing (_TEXT_SQL): half the text to read and decode
    rows = conn.execute(_MEMBER_SQL.replace("SELECT", f"SELECT {_TEXT_SQL},", 1) + " ORDER BY a.id")
    members, sets, sigs, samples = [], [], [], []
    for row in rows:
        fingerprints = _article_shingles(row[0], row[1])
        sig, kept = signature(fingerprints)
        members.append(_member(row[2:]))
        sets.append(fingerprints)
        sigs.append(sig)
        samples.append(kept)
    count = len(members)
    sigs = np.stack(sigs) if sigs else np.empty((0, NUM_PERM), dtype=np.uint32)
    sizes = np.array([len(kept) for kept in samples], dtype=np.int64)
    indexed = np.flatnonzero(sizes >= MIN_SHINGLES)
    bands = [sigs[indexed, b * ROWS : (b + 1) * ROWS].astype("<u4") for b in range(BANDS)]
    orders = [_buckets(values) for values in bands]
    pairs = np.concatenate([indexed[_candidate_pairs(*o)] for o in orders] + [np.empty((0, 2), dtype=np.int64)])
    pairs = np.sort(pairs, axis=1)
    encoded = np.unique(pairs[:, 0] * max(count, 1) + pairs[:, 1])  # distinct pairs, cheaper than axis=0
    pairs = np.stack([encoded // max(count, 1), encoded % max(count, 1)], axis=1)
    codes = np.empty(len(pairs), dtype=np.int64)
    for lo in range(0, len(pairs), 100_000):
        i, j = pairs[lo : lo + 100_000, 0], pairs[lo : lo + 100_000, 1]
        codes[lo : lo + 100_000] = triage(sigs[i], sizes[i], sigs[j], sizes[j])
    unsure = np.flatnonzero(codes == CHECK)
    for lo in range(0, len(unsure), 20_000):
        chunk = unsure[lo : lo + 20_000]
        codes[chunk[ruled_out_pairs(samples, pairs[chunk, 0], pairs[chunk, 1])]] = REJECT
    for k in np.flatnonzero(codes == CHECK):
        codes[k] = ACCEPT if same_story(sets[pairs[k, 0]], sets[pairs[k, 1]]) else REJECT
    del sets
    _, labels = _components(count, pairs[codes == ACCEPT])

    groups: dict[int, list[int]] = {}
    for position, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(position)
    with _transaction(conn):
        forget(conn)  # a cache of the index this connection has elsewhere (the store's) would be stale
        for table in ("clusters", "article_minhash", "lsh_bands"):
            conn.execute(f"DELETE FROM {table}")
        cluster_rows, article_rows = [], []
        for cluster_id, positions in enumerate(sorted(groups.values()), start=1):
            s = _summary([members[p] for p in positions])
            cluster_rows.append((cluster_id, s["canonical_article_id"], s["size"], s["first_published_at"],
                                 s["source_names"]))
            article_rows.extend((cluster_id, members[p]["id"]) for p in positions)
        conn.executemany("INSERT INTO clusters VALUES (?, ?, ?, ?, ?)", cluster_rows)
        conn.executemany("UPDATE articles SET cluster_id = ? WHERE id = ?", article_rows)
        ids = np.array([m["id"] for m in members], dtype=np.int64)
        raw = sigs.astype("<u4").tobytes()
        width = 4 * NUM_PERM
        conn.executemany("INSERT INTO article_minhash VALUES (?, ?, ?, ?)",
                         zip(ids.tolist(), sizes.tolist(), (raw[k : k + width] for k in range(0, len(raw), width)),
                             (s.astype("<u4").tobytes() for s in samples)))
        width = 4 * ROWS
        for b, (order, _) in enumerate(orders):  # in key order: appends to the WITHOUT ROWID b-tree
            buckets = bands[b][order].tobytes()
            conn.executemany("INSERT INTO lsh_bands VALUES (?, ?, ?)",
                             zip(repeat(b), (buckets[k : k + width] for k in range(0, len(buckets), width)),
                                 ids[indexed[order]].tolist()))
        late = conn.execute("SELECT id FROM articles WHERE id > ? ORDER BY id", (int(ids.max(initial=0)),)).fetchall()
        conn.executemany("UPDATE articles SET cluster_id = NULL WHERE id = ?", late)
        for (article_id,) in late:
            assign_cluster(conn, article_id)
        return conn.execute("SELECT count(*) FROM clusters").fetchone()[0]
