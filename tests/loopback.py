"""Generated sites on 127.0.0.1 for the fault, bad-input and security tests.

The sites answer as real hosts (``www.example.gov.cn``) through the crawler's
host map (``QSNEWS_HOST_MAP``, here passed in the environment), so the real
``qsnews crawl`` runs unchanged: robots.txt, offsite filter, redirects,
middlewares, WARC, cleaning and archive all see the real URL.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Page:
    body: bytes
    content_type: str | None = "text/html; charset=utf-8"
    status: int = 200
    headers: tuple = ()


NOT_FOUND = Page(b"<html><body>not found</body></html>", status=404)


@dataclass
class Site:
    """``{(host, path): Page}`` served on loopback; ``requests`` lists every (host, path) asked for.

    HTTP/1.0, one request per connection, GET only, as Python's ``http.server`` answers, but from one
    asyncio loop in a thread: a bench crawler shares this machine's two cores with the site, which a real
    site never does, and ``ThreadingHTTPServer`` (a thread and a header parse through ``email`` per
    request) took ~0.3-0.45 ms of CPU a page from them, ~twice what this does.  The listen queue is 512, as
    real servers keep (nginx: 511): with Python's default of 5 the kernel drops SYNs while the crawler keeps
    the cores busy, and each drop stalls the client for the 1 s SYN retransmission timeout.
    """

    pages: dict
    delay: float = 0.0
    requests: list = field(default_factory=list)

    def __post_init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    def host_map(self) -> dict:
        return {host: f"127.0.0.1:{self.port}" for host, _ in self.pages}

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._answer, sock=self.socket))
        self.loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _answer(self, reader, writer):
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target = head[0].split(" ")[:2]
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            writer.close()
            return
        if method != "GET":
            page = Page(b"", content_type=None, status=501)
        else:
            fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
            host_header = next((v for k, v in fields.items() if k.strip().lower() == "host"), "")
            parts = urlsplit(target)
            host = (parts.netloc or host_header.strip()).split(":")[0].lower()
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            self.requests.append((host, path))
            if self.delay:
                await asyncio.sleep(self.delay)
            page = self.pages.get((host, path)) or NOT_FOUND
        lines = [f"HTTP/1.0 {page.status} {_phrase(page.status)}", "Server: qsnews-tests",
                 f"Date: {formatdate(usegmt=True)}"]
        if page.content_type is not None:
            lines.append(f"Content-Type: {page.content_type}")
        lines += [f"{name}: {value}" for name, value in page.headers]
        lines.append(f"Content-Length: {len(page.body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + page.body)
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    def __enter__(self) -> "Site":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.socket.close()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def registry(path: Path, sources: list[dict]) -> Path:
    """A registry TOML for generic sources: dicts with name, host, start (path) and optional max_pages."""
    entries = []
    for s in sources:
        entries.append(
            f'[[source]]\nname = "{s["name"]}"\nkind = "bureau"\nlevel = "province"\nregion_code = "420000"\n'
            f'cms = "generic"\nstart_urls = ["http://{s["host"]}{s["start"]}"]\nallowed_domains = ["{s["host"]}"]\n'
            f'max_pages = {s.get("max_pages", 500)}\n')
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def crawl_settings(site: Site, **extra) -> list[str]:
    """``-s`` options for ``qsnews crawl`` against ``site``: host map, no politeness delays (loopback only)."""
    values = {"QSNEWS_HOST_MAP": json.dumps(site.host_map()), "DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False",
              "QSNEWS_RETRY_BACKOFF_BASE": "0", **extra}
    return [arg for name, value in values.items() for arg in ("-s", f"{name}={value}")]


def qsnews_command(*args) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *map(str, args)]


def run(*args, env=None, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run(qsnews_command(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def hooked_env(folder: Path, code: str, **variables) -> dict:
    """The environment of a subprocess (and its children) that runs ``code`` first: a sitecustomize in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(code, encoding="utf-8")
    paths = [str(folder), os.environ.get("PYTHONPATH")]
    return {**os.environ, **variables, "PYTHONPATH": os.pathsep.join(filter(None, paths))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(db):
    """`qsnews serve` over ``db`` on a free loopback port: yields its base URL once it answers, then stops it."""
    port = free_port()
    server = subprocess.Popen(qsnews_command("serve", "--db", db, "--port", port), cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def query(db, sql, *params) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def article_page(title: str, paragraphs: list[str], date: str = "2024-06-01") -> bytes:
    """A plain, well-formed article page the generic path archives."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body>'
            f'<div class="nav"><a href="/">首页</a></div><h1>{title}</h1>'
            f'<div class="info">发布时间：{date} 10:00 来源：市场监督管理局</div>'
            f'<div class="content">{body}</div></body></html>').encode("utf-8")


def list_pages(host: str, links: list[tuple[str, str]], per_page: int) -> dict:
    """Paged list: ``/list/index.html``, ``/list/index_1.html`` … linked by 下一页; ``links`` are (path, title)."""
    pages = {}
    chunks = [links[i:i + per_page] for i in range(0, len(links), per_page)] or [[]]
    for n, chunk in enumerate(chunks):
        items = "".join(f'<li><a href="{path}">{title}</a><span>2024-06-01</span></li>' for path, title in chunk)
        nxt = f'<a href="/list/index_{n + 1}.html">下一页</a>' if n + 1 < len(chunks) else ""
        name = "/list/index.html" if n == 0 else f"/list/index_{n}.html"
        pages[(host, name)] = Page(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>工作动态</title>'
                                   f'</head><body><ul class="list">{items}</ul>{nxt}</body></html>'.encode("utf-8"))
    return pages
