"""Cleaning and archiving off the reactor: worker processes that clean pages and write them in batches.

Why: the cleaning chain and the archive write (several ms a page together)
ran on the Twisted reactor, which fetched nothing meanwhile.  With
QSNEWS_CLEAN_WORKERS > 0 the reactor only hands each item to a worker
(``Pool.submit``) and hears back once it is archived.

* Workers are fresh interpreters (``python -m pipelines.offload``), never
  forks of the process running the reactor.  They get each source's cleaning
  context (region names, learned template) before its items.
* A worker cleans what it receives and writes everything it holds in ONE
  transaction (``Archive.store_batch``: each article with its pages row) when
  its input is empty or it holds ``batch_size`` items: big batches under load,
  little latency when idle.  Big batches are what make writes cheap: a commit
  rewrites every LSH and search-index page its batch touched, wherever they
  are in the archive.  It holds the write lock only while writing.
* An item whose URL is already in flight goes to the same worker (so a URL's
  writes keep their order); any other to the worker with the least in flight.
* The pipes are the reactor's own non-blocking transports: no thread, so no
  GIL hand-over per item, and the reactor never waits on a busy worker.
* A worker exits when its input pipe closes without a "stop" (the crawl
  process died): what it held uncommitted is fetched again next run, since
  those articles are not known yet.  A worker that dies fails its items in
  flight with ``WorkerDied`` (the pipeline records those articles as errors,
  unless the archive shows the worker wrote them before dying, and writes the
  other pages itself) and, if it had started properly, a new one takes its place.

Messages are pickles behind a 4-byte big-endian length.  The per-item work
(``clean_article``, ``page_values``) lives here too, for the inline pipelines
(QSNEWS_CLEAN_WORKERS = 0) to do exactly the same.
"""
from __future__ import annotations

import itertools
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

from crawler import provenance

logger = logging.getLogger(__name__)

# The pages-row fields an item carries: its URL and where the page came from.
PAGE_FIELDS = ("url", *provenance.PAGE_FIELDS)
CODE_ROOT = Path(__file__).resolve().parent.parent  # where a worker imports pipelines and archive from
LENGTH = struct.Struct("!I")


def page_values(fields, outcome: str, reason: str | None = None) -> dict:
    """The ``pages`` row of an item (a mapping: dict or ItemAdapter), without its source_id."""
    row = {name: fields.get(name) for name in PAGE_FIELDS}
    row.update(outcome=outcome, reason=reason)
    return row


def clean_article(fields, source: dict) -> tuple[dict | None, str, str | None]:
    """(record, 'article', None), or (None, outcome, reason) when the page yields no article."""
    from pipelines.chain import extract_html  # not at the top: a crawl process whose workers clean never loads it

    try:
        record = extract_html(fields["html"], url=fields["url"], source=source, hints=fields.get("hints") or {})
    except Exception as exc:  # one broken page never stops a crawl
        return None, "error", f"cleaning failed: {type(exc).__name__}: {exc}"
    if not record.get("body"):
        return None, "skipped", "no article text found on the page"
    return record, "article", None


class WorkerDied(RuntimeError):
    """The worker holding an item died before archiving it (or none could start)."""


# -- the worker process ----------------------------------------------------------------------------------------

def main(argv: list[str]) -> None:
    """``python -m pipelines.offload DB BATCH_SIZE``: items on stdin, results on stdout (as Pool starts it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the crawl's to handle: it stops us when done
    results = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to stderr, not into the results
    try:
        serve(0, results, argv[0], int(argv[1]))
    except BrokenPipeError:  # the crawl process is gone
        pass


def serve(inbox: int, outbox: int, db_path: str, batch_size: int) -> None:
    """A worker's life: clean each item as it comes, write what it holds when idle or ``batch_size`` deep.

    Messages in: ("source", source_id, context), ("item", seq, source_id, kind, fields), ("stop",).
    Messages out: ("ready",) once, then ("done", [(seq, outcome, reason, status), ...]) per batch.
    """
    import pipelines.chain  # noqa: F401  (ready means able to clean)
    from archive.store import Archive

    contexts: dict[int, dict] = {}
    held: list[tuple[int, str, str | None, tuple]] = []
    with Archive(db_path) as archive:
        _send(outbox, ("ready",))
        while True:
            if held and (len(held) >= batch_size or not select.select([inbox], [], [], 0)[0]):
                _send(outbox, ("done", _write(archive, held)))
                held = []
            message = _receive(inbox)
            if message is None:  # the crawl process is gone: leave what is held to the next run
                return
            if message[0] == "source":
                contexts[message[1]] = message[2]
            elif message[0] == "item":
                _, seq, source_id, kind, fields = message
                held.append((seq, *_prepare(fields, kind, source_id, contexts[source_id])))
            else:
                if held:
                    _send(outbox, ("done", _write(archive, held)))
                return


def _receive(fd: int):
    """The next message, or None at end of input."""
    header = _read(fd, LENGTH.size)
    data = header and _read(fd, LENGTH.unpack(header)[0])
    return None if data is None else pickle.loads(data)


def _read(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _send(fd: int, message) -> None:
    view = memoryview(_frame(message))
    while view:
        view = view[os.write(fd, view):]


def _frame(message) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(data)) + data


def _prepare(fields: dict, kind: str, source_id: int, context: dict) -> tuple[str, str | None, tuple]:
    """(outcome, reason, store_batch entry) for one item."""
    if kind == "article":
        record, outcome, reason = clean_article(fields, context)
    else:
        record, outcome, reason = None, fields["outcome"], fields.get("reason")
    return outcome, reason, (record, {**page_values(fields, outcome, reason), "source_id": source_id})


def _write(archive, held: list) -> list[tuple]:
    try:
        statuses = archive.store_batch([entry for _, _, _, entry in held])
    except Exception as exc:  # nothing of the batch was written: every item says why
        statuses = [exc] * len(held)
    return [(seq, outcome, reason, _portable(status)) for (seq, outcome, reason, _), status in zip(held, statuses)]


def _portable(status):
    """An exception that crosses the pipe as itself, or as a RuntimeError saying what it was."""
    if not isinstance(status, BaseException):
        return status
    try:
        pickle.loads(pickle.dumps(status))
        return status
    except Exception:
        return RuntimeError(f"{type(status).__name__}: {status}")


# -- the crawl process's side ----------------------------------------------------------------------------------

class _Worker:
    """One worker process, spoken to through a non-blocking reactor transport on its stdin and stdout pipes
    (a Twisted protocol; Twisted is imported only here, so a worker process never loads it)."""

    def __init__(self, pool: Pool, number: int):
        from twisted.internet import defer
        from twisted.internet.stdio import StandardIO

        self.pool, self.number, self.ready = pool, number, False
        self.in_flight: dict = {}  # seq -> (url, Deferred)
        self.urls: Counter = Counter()  # URLs in flight here
        self.unread = bytearray()
        self.exited = defer.Deferred()
        from_crawl, to_worker = os.pipe()
        from_worker, to_crawl = os.pipe()
        paths = [str(CODE_ROOT), os.environ.get("PYTHONPATH")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.offload", pool.db_path, str(pool.batch_size)],
            stdin=from_crawl, stdout=to_crawl, env=env)
        os.close(from_crawl)  # only the worker may hold these ends, or it would never see the crawl go away
        os.close(to_crawl)
        StandardIO(self, stdin=from_worker, stdout=to_worker)

    def send(self, message) -> None:
        self.transport.write(_frame(message))

    def makeConnection(self, transport) -> None:
        self.transport = transport

    def dataReceived(self, data: bytes) -> None:
        self.unread += data
        while len(self.unread) >= LENGTH.size:
            end = LENGTH.size + LENGTH.unpack_from(self.unread)[0]
            if len(self.unread) < end:
                return
            message = pickle.loads(self.unread[LENGTH.size:end])
            del self.unread[:end]
            self.pool._received(self, message)

    def connectionLost(self, reason=None) -> None:
        """Its results pipe closed: it has exited (after "stop") or died."""
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.pool._gone(self)
        self.exited.callback(self.process.returncode)


class Pool:
    """The workers of one archive, shared by every crawler of the process (see ``acquire``)."""

    def __init__(self, db_path: str, size: int, batch_size: int):
        self.db_path, self.batch_size = db_path, batch_size
        self.contexts: dict[int, dict] = {}  # source_id -> cleaning context, for replacement workers too
        self.numbers = itertools.count()
        self.seqs = itertools.count()
        self.closing = False
        self.users = 0
        self.workers = [_Worker(self, next(self.numbers)) for _ in range(size)]
        logger.info("cleaning and archiving in %d worker processes (pids %s), writing up to %d items a transaction",
                    size, ", ".join(str(w.process.pid) for w in self.workers), batch_size)

    def add_source(self, source_id: int, context: dict) -> None:
        self.contexts[source_id] = context
        for worker in self.workers:
            worker.send(("source", source_id, context))

    def submit(self, source_id: int, kind: str, fields: dict):
        """A Deferred for (outcome, reason, status) of one item ('article' or 'page' ``kind``)."""
        from twisted.internet import defer

        if not self.workers:
            return defer.fail(WorkerDied("no cleaning worker is running (they could not start; see the log)"))
        url = fields.get("url")
        worker = next((w for w in self.workers if url in w.urls), None) or min(
            self.workers, key=lambda w: len(w.in_flight))
        seq = next(self.seqs)
        done = defer.Deferred()
        worker.in_flight[seq] = (url, done)
        worker.urls[url] += 1
        worker.send(("item", seq, source_id, kind, fields))
        return done

    def _received(self, worker, message: tuple) -> None:
        if message[0] == "ready":
            worker.ready = True
            return
        for seq, outcome, reason, status in message[1]:
            url, done = worker.in_flight.pop(seq)
            worker.urls[url] -= 1
            if not worker.urls[url]:
                del worker.urls[url]
            done.callback((outcome, reason, status))

    def _gone(self, worker) -> None:
        self.workers.remove(worker)
        code = worker.process.returncode
        if self.closing and not worker.in_flight:
            return
        logger.error("cleaning worker %s (pid %s) died with exit status %s, %d pages in flight%s",
                     worker.number, worker.process.pid, code, len(worker.in_flight),
                     "" if worker.ready else " before it was ready: not replaced")
        failure = WorkerDied(f"cleaning worker died (exit status {code}) with this page in its batch")
        for _, done in worker.in_flight.values():
            done.errback(failure)
        if worker.ready and not self.closing:
            replacement = _Worker(self, next(self.numbers))
            for source_id, context in self.contexts.items():
                replacement.send(("source", source_id, context))
            self.workers.append(replacement)

    def close(self):
        """A Deferred that fires once every worker has written what it holds and exited."""
        from twisted.internet import defer

        self.closing = True
        exits = [worker.exited for worker in self.workers]
        for worker in self.workers:
            worker.send(("stop",))
        return defer.DeferredList(exits)


_pools: dict[str, Pool] = {}


def acquire(db_path: str, size: int, batch_size: int) -> Pool:
    """The process's pool for ``db_path``, started on first use: one set of workers however many crawlers."""
    pool = _pools.get(db_path)
    if pool is None:
        pool = _pools[db_path] = Pool(db_path, size, batch_size)
    pool.users += 1
    return pool


def release(pool: Pool):
    """A Deferred; the last crawler to release the pool stops its workers."""
    from twisted.internet import defer

    pool.users -= 1
    if pool.users:
        return defer.succeed(None)
    del _pools[pool.db_path]
    return pool.close()


if __name__ == "__main__":
    main(sys.argv[1:])
