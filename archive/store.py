"""``Archive``: the one writer of the SQLite archive (API fixed in notes/contracts.md).

Every write is idempotent, so a crawl can be re-run or resumed at will:
sources by name, pages by url, articles by url.  The database runs in WAL
mode so Datasette can read while a crawl writes, with foreign keys on.
Each method is one transaction; the search index is maintained by triggers
(archive.schema) inside the same transaction, so the two never disagree.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from archive import schema, search, versions
from archive.search import to_simplified

SOURCE_COLUMNS = ("name", "kind", "level", "region_code", "province", "prefecture", "county",
                  "cms", "homepage", "start_urls", "status")
PAGE_COLUMNS = ("url", "source_id", "fetched_at", "http_status", "content_type", "encoding", "sha256",
                "warc_file", "warc_offset", "outcome", "reason", "etag", "last_modified")
ARTICLE_COLUMNS = ("url", "canonical_url", "source_id", "title", "title_derived", "subtitle", "published_at",
                   "published_raw", "source_name", "author", "editor", "section", "province", "prefecture",
                   "county", "region_code", "body", "body_simplified", "paragraph_count", "flags", "content_hash")
RUN_COUNTS = ("requests", "new_articles", "updated_articles", "errors", "blocked", "status")
PARAGRAPH_COLUMNS = ("position", "kind", "text", "reason")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect(path) -> sqlite3.Connection:
    """A connection as the archive wants it: autocommit (explicit transactions), WAL, foreign keys."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("pragma journal_mode = wal")
    conn.execute("pragma synchronous = normal")
    conn.execute("pragma cache_size = -16000")  # 16 MB, not 2: the reprint check reads back recent candidates
    conn.execute("pragma foreign_keys = on")
    return conn


def _region_names(region_code: str) -> dict:
    """Province / prefecture / county for a code, from the regions helper's table."""
    try:
        from pipelines.regions import lookup
    except ImportError as exc:
        raise RuntimeError(
            f"archive: cannot fill region names for source region_code {region_code!r}: "
            f"pipelines.regions.lookup is not available ({exc})"
        ) from exc
    region = lookup(region_code)
    if region is None:
        return {}
    return {name: getattr(region, name, None) for name in ("province", "prefecture", "county")}


class Archive:
    """Opens (creating and migrating as needed) the archive at ``path``."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = connect(self.path)
        schema.migrate(self.conn)
        self._index_later = False  # True while store_batch indexes its new articles itself
        self._signatures = None  # see _signature_cache
        search.register_functions(self.conn, index_later=lambda: self._index_later)

    def _signature_cache(self):
        """This connection's cache of reprint candidates' index rows (``archive.signature_cache``), made when
        the first article is stored: it needs numpy, which a crawl process whose workers write never loads."""
        if self._signatures is None:
            from archive.signature_cache import SignatureCache
            self._signatures = SignatureCache()
        return self._signatures

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sources, pages, runs ------------------------------------------------

    def upsert_source(self, row: dict) -> int:
        """Insert or update a source by name; region names come from ``region_code``.

        Names given explicitly in ``row`` win over the lookup; unknown keys
        (registry extras) are ignored.
        """
        values = {k: row[k] for k in SOURCE_COLUMNS if k in row}
        if isinstance(values.get("start_urls"), (list, tuple)):
            values["start_urls"] = "\n".join(values["start_urls"])
        if values.get("region_code"):
            values["region_code"] = str(values["region_code"])
            for name, place in _region_names(values["region_code"]).items():
                if not values.get(name):
                    values[name] = place
        columns = list(values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "name")
        sql = (f"insert into sources ({', '.join(columns)}) values ({', '.join('?' * len(columns))}) "
               f"on conflict(name) do {'update set ' + updates if updates else 'nothing'}")
        with schema.transaction(self.conn) as conn:
            conn.execute(sql, [values[c] for c in columns])
            return conn.execute("select id from sources where name = ?", (values["name"],)).fetchone()[0]

    def set_source_status(self, source_id: int, status: str) -> None:
        with schema.transaction(self.conn) as conn:
            conn.execute("update sources set status = ? where id = ?", (status, source_id))

    def record_page(self, row: dict) -> None:
        """Insert or replace what is known about one fetched URL."""
        with schema.transaction(self.conn) as conn:
            _record_page(conn, row)

    def archived_fetch(self, url: str, fetched_at: str | None) -> str | None:
        """Whether this fetch of ``url`` is archived as an article: 'new' if it created the article, 'seen' if
        the article was there before, None if not (what a crawl asks of pages a dead worker held: it may
        have written them and died before saying so)."""
        row = self.conn.execute(
            "select a.first_seen_at = p.fetched_at from pages p join articles a on a.url = p.url "
            "where p.url = ? and p.fetched_at is ? and p.outcome = 'article'", (url, fetched_at)).fetchone()
        return None if row is None else ("new" if row[0] else "seen")

    def page_validators(self) -> dict[str, dict]:
        """What a conditional GET can send for each page fetched whole before: {url: {etag, last_modified,
        fetched_at}}, for pages served whole (200) or confirmed unchanged (304) with a validator."""
        rows = self.conn.execute(
            "select url, etag, last_modified, fetched_at from pages "
            "where http_status in (200, 304) and (etag is not null or last_modified is not null)")
        return {row["url"]: {k: row[k] for k in ("etag", "last_modified", "fetched_at")} for row in rows}

    def last_blocked_at(self, source_name: str) -> str | None:
        """When the source's latest run that was blocked finished, if the source is still marked blocked."""
        row = self.conn.execute(
            "select max(r.finished_at) from sources s join crawl_runs r on r.source_id = s.id "
            "where s.name = ? and s.status = 'blocked' and r.status = 'blocked'", (source_name,)).fetchone()
        return row[0] if row else None

    def start_run(self, source_id: int | None) -> int:
        with schema.transaction(self.conn) as conn:
            cur = conn.execute("insert into crawl_runs (started_at, source_id) values (?, ?)", (_now(), source_id))
            return cur.lastrowid

    def finish_run(self, run_id: int, **counts) -> None:
        """Close a run with its counts; ``status`` defaults to 'ok'."""
        unknown = set(counts) - set(RUN_COUNTS)
        if unknown:
            raise ValueError(f"finish_run: unknown counts {sorted(unknown)}")
        counts.setdefault("status", "ok")
        sets = ", ".join(f"{c} = ?" for c in counts)
        with schema.transaction(self.conn) as conn:
            conn.execute(f"update crawl_runs set finished_at = ?, {sets} where id = ?",
                         [_now(), *counts.values(), run_id])

    def close_run(self, run_id: int, source_id: int, counts: RunCounts, requests: int = 0) -> None:
        """Close a run with its counts and mark its source with the run's status."""
        status = counts.status()
        self.set_source_status(source_id, status)
        self.finish_run(run_id, requests=requests, status=status, **counts.values)

    def article_pages(self) -> list[dict]:
        """Every page archived as (part of) an article, with its source: what reprocessing reads."""
        sql = """
            select p.*, s.name as source_name, s.kind as source_kind, s.level as source_level,
                   s.region_code as source_region_code, s.cms as source_cms
            from pages p left join sources s on s.id = p.source_id
            where p.outcome = 'article' order by p.url
        """
        cur = self.conn.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur]

    def source_paragraph_texts(self, source_name: str, pages: int = 50) -> list[list[str]]:
        """Body and boilerplate paragraph texts of a source's latest articles, one list per article.

        What a per-source template is learned from; paragraphs the cleaning already explained (title,
        meta, byline, caption …) are left out so a recurring 来源 line keeps feeding its field.
        """
        rows = self.conn.execute(
            """select p.article_id, p.text from paragraphs p
               where p.kind in ('body', 'boilerplate') and p.article_id in (
                 select a.id from articles a join sources s on s.id = a.source_id
                 where s.name = ? order by a.id desc limit ?)
               order by p.article_id, p.position""",
            (source_name, pages),
        )
        texts: dict[int, list[str]] = {}
        for article_id, text in rows:
            texts.setdefault(article_id, []).append(text)
        return list(texts.values())

    # -- articles ----------------------------------------------------------

    def known_article_urls(self, source_id: int | None = None) -> set[str]:
        if source_id is None:
            rows = self.conn.execute("select url from articles")
        else:
            rows = self.conn.execute("select url from articles where source_id = ?", (source_id,))
        return {row[0] for row in rows}

    def upsert_article(self, record: dict, source_id: int | None, seen_at: str) -> tuple[int, str]:
        """Insert or update one cleaned record; returns (article id, 'new' | 'updated' | 'unchanged').

        'unchanged' means every stored column and every paragraph is equal:
        only ``last_seen_at`` moves.  On 'updated' the paragraphs are replaced
        (the index follows title and body by trigger); ``first_seen_at`` never changes.
        """
        values = _article_values(record, source_id)
        paragraphs = _paragraph_rows(record.get("paragraphs") or [])
        with schema.transaction(self.conn) as conn:
            return _upsert_article(conn, values, paragraphs, seen_at, self._signature_cache())

    def store_batch(self, entries) -> list:
        """Write many fetched pages, each with the article cleaned from it if any, in ONE transaction.

        ``entries``: ``(record or None, pages row)`` pairs.  A record is stored as ``upsert_article``
        stores it (source: the row's ``source_id``; seen at: its ``fetched_at``, else now) in the same
        transaction as its page, so neither is ever archived without the other.  One commit per batch
        rather than two per article is what makes a crawl's writes cheap; so does indexing the batch's
        new articles in one statement at its end (``schema.index_articles``), unless one URL comes twice.

        Returns one status per entry: 'new' | 'updated' | 'unchanged' for an article, None for a page
        alone, or the exception that entry raised: a bad entry is rolled back alone and the others are
        written.  The batch is first written straight through; only if an entry fails is it rolled back
        and written again with a savepoint per entry (FTS5 flushes its in-memory index at every
        savepoint).  When SQLite gives up the whole transaction (disk full, I/O error) the error
        propagates and nothing of the batch is written.
        """
        entries = list(entries)
        urls = [page.get("url") for _, page in entries]
        self._index_later = len(set(urls)) == len(urls)  # a URL's second write may change what the first indexed
        try:
            try:
                return self._write_batch(entries, savepoints=False)
            except _EntryFailed:
                return self._write_batch(entries, savepoints=True)  # rolled back: again, each entry alone
        finally:
            self._index_later = False

    def _write_batch(self, entries: list, savepoints: bool) -> list:
        statuses, new_ids = [], []
        with schema.transaction(self.conn) as conn:
            for record, page in entries:
                if savepoints:
                    conn.execute("savepoint entry")
                try:
                    status = None
                    if record is not None:
                        values = _article_values(record, page.get("source_id"))
                        paragraphs = _paragraph_rows(record.get("paragraphs") or [])
                        article_id, status = _upsert_article(conn, values, paragraphs,
                                                             page.get("fetched_at") or _now(), self._signature_cache())
                        if status == "new":
                            new_ids.append(article_id)
                    _record_page(conn, page)
                except Exception as exc:
                    if not conn.in_transaction:
                        raise
                    if not savepoints:
                        raise _EntryFailed() from exc
                    conn.execute("rollback to entry")
                    status = exc
                if savepoints:
                    conn.execute("release entry")
                statuses.append(status)
            if self._index_later:
                schema.index_articles(conn, new_ids)
        return statuses


class RunCounts:
    """What a ``crawl_runs`` row is closed with, counted item by item: by a crawl's ArchivePipeline and by
    ``qsnews ingest`` for scale-out workers, which must decide alike."""

    def __init__(self):
        self.values = {"new_articles": 0, "updated_articles": 0, "errors": 0, "blocked": 0}

    def add(self, outcome: str, status) -> None:
        """One stored item: its page's outcome and its article's status ('new', 'updated', ... or None)."""
        if status in ("new", "updated"):
            self.values[f"{status}_articles"] += 1
        elif outcome in ("error", "blocked"):
            self.values["errors" if outcome == "error" else "blocked"] += 1

    def status(self) -> str:
        """Any block wins, then any error."""
        if self.values["blocked"]:
            return "blocked"
        return "partial" if self.values["errors"] else "ok"


class _EntryFailed(Exception):
    """An entry of a batch written without savepoints failed: the batch is rolled back and written again."""


def _record_page(conn: sqlite3.Connection, row: dict) -> None:
    values = {k: row.get(k) for k in PAGE_COLUMNS}
    updates = ", ".join(f"{c} = excluded.{c}" for c in PAGE_COLUMNS if c != "url")
    conn.execute(
        f"insert into pages ({', '.join(PAGE_COLUMNS)}) values ({', '.join('?' * len(PAGE_COLUMNS))}) "
        f"on conflict(url) do update set {updates}",
        [values[c] for c in PAGE_COLUMNS],
    )


def _upsert_article(conn: sqlite3.Connection, values: dict, paragraphs: list[tuple], seen_at: str,
                    signatures) -> tuple[int, str]:
    """``upsert_article`` inside the caller's open transaction; ``signatures``: the connection's
    ``archive.signature_cache.SignatureCache``."""
    from archive import clusters  # numpy (~20 MB): a crawl process whose workers do the writing never needs it

    old = conn.execute("select * from articles where url = ?", (values["url"],)).fetchone()
    if old is None:
        columns = [*ARTICLE_COLUMNS, "first_seen_at", "last_seen_at"]
        cur = conn.execute(
            f"insert into articles ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
            [*(values[c] for c in ARTICLE_COLUMNS), seen_at, seen_at],
        )
        article_id, status = cur.lastrowid, "new"
    else:
        article_id = old["id"]
        if values["source_id"] is None:
            values["source_id"] = old["source_id"]
        same = all(old[c] == values[c] for c in ARTICLE_COLUMNS) and paragraphs == [
            tuple(r) for r in conn.execute(
                f"select {', '.join(PARAGRAPH_COLUMNS)} from paragraphs where article_id = ? order by position",
                (article_id,))
        ]
        sets = ", ".join(f"{c} = ?" for c in ARTICLE_COLUMNS)
        conn.execute(f"update articles set {sets}, last_seen_at = ? where id = ?",
                     [*(values[c] for c in ARTICLE_COLUMNS), seen_at, article_id])
        status = "unchanged" if same else "updated"
    if status != "unchanged":
        conn.execute("delete from paragraphs where article_id = ?", (article_id,))
        conn.executemany(
            f"insert into paragraphs (article_id, {', '.join(PARAGRAPH_COLUMNS)}) values (?, ?, ?, ?, ?)",
            [(article_id, *p) for p in paragraphs],
        )
        clusters.assign_cluster(conn, article_id, signatures)
    versions.record_version(conn, article_id, seen_at, values["body"], values["content_hash"])
    return article_id, status


def _article_values(record: dict, source_id: int | None) -> dict:
    """The ``articles`` row for a record, filling what the chain may leave out and normalising types."""
    if not record.get("url"):
        raise ValueError("upsert_article: record has no url")
    values = {c: record.get(c) for c in ARTICLE_COLUMNS}
    values["source_id"] = source_id
    values["title_derived"] = int(bool(values["title_derived"]))
    body = values["body"] or ""
    if values["body_simplified"] is None:
        values["body_simplified"] = to_simplified(body)
    if values["content_hash"] is None:
        values["content_hash"] = hashlib.sha256(values["body_simplified"].encode("utf-8")).hexdigest()
    if values["paragraph_count"] is None:
        paragraphs = record.get("paragraphs")
        values["paragraph_count"] = (sum(1 for p in paragraphs if p.get("kind", "body") == "body")
                                     if paragraphs else len([line for line in body.split("\n") if line]))
    flags = values["flags"]
    values["flags"] = flags if isinstance(flags, str) else json.dumps(list(flags or []), ensure_ascii=False)
    return values


def _paragraph_rows(paragraphs) -> list[tuple]:
    rows = []
    for i, p in enumerate(paragraphs):
        position = p.get("position")
        rows.append((i if position is None else position, p.get("kind") or "body", p.get("text") or "",
                     p.get("reason")))
    return rows
