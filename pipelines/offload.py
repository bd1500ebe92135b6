"""Cleaning and archiving off the reactor: worker processes that clean pages and write them in batches.

Why: the cleaning chain and the archive write (several ms a page together)
ran on the Twisted reactor, which fetched nothing meanwhile.  With
QSNEWS_CLEAN_WORKERS > 0 the reactor only hands each item to a worker
(``Pool.submit``) and hears back once it is archived.

* A worker is two fresh interpreters (``python -m pipelines.offload clean``
  and ``... write``), never forks of the process running the reactor: a
  cleaner, which gets each source's cleaning context (region names, learned
  template) before its items, and the writer it feeds.  Two processes because
  cleaning and writing each take about half a worker's time: while the writer
  commits a batch the cleaner cleans the next, on another core.
* The writer writes everything it holds in ONE transaction
  (``Archive.store_batch``: each article with its pages row) when it holds
  ``batch_size`` items or its input stays empty for ``LINGER``: big batches
  under load, little latency when idle.  Big batches are what make writes cheap: a commit
  rewrites every LSH and search-index page its batch touched, wherever they
  are in the archive.  It holds the write lock only while writing.
* An item whose URL is already in flight goes to the same worker (so a URL's
  writes keep their order); any other to the worker with the least in flight.
* The pipes are the reactor's own non-blocking transports: no thread, so no
  GIL hand-over per item, and the reactor never waits on a busy worker.
* A worker exits when its input pipe closes without a "stop" (the crawl
  process died): what it held uncommitted is fetched again next run, since
  those articles are not known yet.  A worker one of whose processes dies
  (the other then exits) fails its items in
  flight with ``WorkerDied`` (the pipeline records those articles as errors,
  unless the archive shows the worker wrote them before dying, and writes the
  other pages itself) and, if it had started properly, a new one takes its place.

Messages are pickles behind a 4-byte big-endian length.  The per-item work
(``clean_article``, ``page_values``) lives here too, for the inline pipelines
(QSNEWS_CLEAN_WORKERS = 0) to do exactly the same.
"""
from __future__ import annotations

import gc
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
# How long the writer waits for another entry before it writes a partial batch.  Its cleaner hands entries
# over one by one, faster than they can be written, but with gaps: without the wait the writer catches up
# in every gap and commits a few entries at a time, and small commits cost ~12% more per article (each
# rewrites the index pages it touched).  An item waits at most this long more when the crawl is slow.
LINGER = 0.05


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


# -- the worker's two processes ----------------------------------------------------------------------------------

def main(argv: list[str]) -> None:
    """``python -m pipelines.offload clean`` or ``... write DB BATCH_SIZE LINGER`` (as ``_Worker`` starts
    them): messages in on stdin, out on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the crawl's to handle: it stops us when done
    results = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to stderr, not into the messages
    try:
        if argv[0] == "clean":
            clean(0, results)
        else:
            write(0, results, argv[1], int(argv[2]), float(argv[3]))
    except BrokenPipeError:  # the process we send to is gone: the crawl hears of it and acts
        pass


def clean(inbox: int, outbox: int) -> None:
    """The cleaner: clean each item as it comes and pass it on to the writer at once.

    Messages in: ("source", source_id, context), ("item", seq, source_id, kind, fields), ("stop",).
    Messages out: ("ready",) once, ("entry", seq, outcome, reason, store_batch entry) per item, ("stop",).
    Its output is buffered here, never blocked on: while the writer commits a batch the cleaner goes on
    cleaning what the crawl sends, which is the point of having two processes.
    """
    import pipelines.chain  # noqa: F401  (ready means able to clean)

    contexts: dict[int, dict] = {}
    out = _Outbox(outbox)
    out.put(("ready",))
    while True:
        readable = select.select([inbox], [outbox] if out.pending else [], [])[0]
        out.flush()
        if not readable:
            continue
        message = _receive(inbox)
        if message is None:  # the crawl process is gone: the writer sees us go and leaves what it holds
            return
        if message[0] == "source":
            contexts[message[1]] = message[2]
        elif message[0] == "item":
            _, seq, source_id, kind, fields = message
            out.put(("entry", seq, *_prepare(fields, kind, source_id, contexts[source_id])))
            out.flush()
        else:
            out.put(("stop",))
            out.drain()
            return


def write(inbox: int, outbox: int, db_path: str, batch_size: int, linger: float) -> None:
    """The writer: hold the cleaner's entries and write them in ONE transaction (``Archive.store_batch``) when
    it holds ``batch_size``, or when no entry came for ``linger`` seconds.

    Messages out: ("ready",) once the archive is open and the cleaner ready, then
    ("done", [(seq, outcome, reason, status), ...]) per batch.
    """
    from archive.store import Archive

    held: list[tuple[int, str, str | None, tuple]] = []
    with Archive(db_path) as archive:
        if _receive(inbox) is None:  # the cleaner could not start
            return
        _send(outbox, ("ready",))
        while True:
            if held and (len(held) >= batch_size or not select.select([inbox], [], [], linger)[0]):
                _send(outbox, ("done", _write(archive, held)))
                held = []
            message = _receive(inbox)
            if message is None:  # the cleaner is gone (the crawl died, or it did): leave what is held to the next run
                return
            if message[0] == "entry":
                held.append(message[1:])
            else:
                if held:
                    _send(outbox, ("done", _write(archive, held)))
                return


class _Outbox:
    """A non-blocking pipe with a buffer in front: ``put`` never waits, ``flush`` writes what the pipe takes."""

    def __init__(self, fd: int):
        self.fd, self.pending = fd, bytearray()
        os.set_blocking(fd, False)

    def put(self, message) -> None:
        self.pending += _frame(message)

    def flush(self) -> None:
        while self.pending:
            try:
                written = os.write(self.fd, self.pending)
            except BlockingIOError:
                return
            del self.pending[:written]

    def drain(self) -> None:
        while self.pending:
            select.select([], [self.fd], [])
            self.flush()


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
    """One worker: a cleaner process and the writer process it feeds, spoken to through non-blocking reactor
    transports (a Twisted protocol; Twisted is imported only here, so neither process ever loads it).

    The crawl writes items to the cleaner's stdin and reads results from the writer's stdout; the cleaner
    writes to the writer through a pipe of their own.  When either process ends the results pipe closes
    (the writer has exited, or it saw the cleaner go and exited), and the worker is gone.
    """

    def __init__(self, pool: Pool, number: int):
        from twisted.internet import defer
        from twisted.internet.stdio import StandardIO

        self.pool, self.number, self.ready = pool, number, False
        self.in_flight: dict = {}  # seq -> (url, Deferred)
        self.urls: Counter = Counter()  # URLs in flight here
        self.unread = bytearray()
        self.exited = defer.Deferred()
        to_cleaner, items = os.pipe()
        to_writer, entries = os.pipe()
        results, from_writer = os.pipe()
        _widen(entries)
        paths = [str(CODE_ROOT), os.environ.get("PYTHONPATH")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
        command = [sys.executable, "-m", "pipelines.offload"]
        self.cleaner = subprocess.Popen([*command, "clean"], stdin=to_cleaner, stdout=entries, env=env)
        self.writer = subprocess.Popen([*command, "write", pool.db_path, str(pool.batch_size), str(LINGER)],
                                       stdin=to_writer, stdout=from_writer, env=env)
        for fd in (to_cleaner, to_writer, entries, from_writer):  # only the workers may hold these ends, or
            os.close(fd)  # neither would ever see the other (or the crawl) go away
        self.fds = (results, items)
        StandardIO(self, stdin=results, stdout=items)

    @property
    def pids(self) -> str:
        return f"{self.cleaner.pid}/{self.writer.pid}"

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
        """The results pipe closed: both processes have exited (after "stop"), or one of them died."""
        for fd in self.fds:  # Twisted's stdio transport stops using its pipes but leaves them open; closed,
            try:  # the cleaner sees its input end when its writer died
                os.close(fd)
            except OSError:
                pass
        for process in (self.writer, self.cleaner):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.pool._gone(self)
        self.exited.callback(self.exit_status()[1])

    def exit_status(self) -> tuple[str, int]:
        """(which process, its exit status): the writer if it failed (the cleaner then only saw its input
        close), else the cleaner (the writer exits cleanly when the cleaner goes)."""
        return ("writer", self.writer.returncode) if self.writer.returncode else ("cleaner", self.cleaner.returncode)


def _widen(fd: int) -> None:
    """A 1 MB pipe (the most Linux gives unprivileged processes) instead of 64 KB: fewer, bigger reads."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):  # not Linux, or a lower limit: the default pipe still works
        pass


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
        logger.info("cleaning and archiving in %d workers (cleaner/writer pids %s), writing up to %d items a "
                    "transaction", size, ", ".join(w.pids for w in self.workers), batch_size)

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
        role, code = worker.exit_status()
        if self.closing and not worker.in_flight:
            return
        logger.error("cleaning worker %s (pids %s): its %s died with exit status %s, %d pages in flight%s",
                     worker.number, worker.pids, role, code, len(worker.in_flight),
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
    gc.freeze()  # no collections at exit, which the crawl would wait for at its end (see crawler.cli.run)
