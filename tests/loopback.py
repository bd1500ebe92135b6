"""Generated sites on 127.0.0.1 for the fault, bad-input and security tests.

The sites answer as real hosts (``www.example.gov.cn``) through the crawler's
host map (``QSNEWS_HOST_MAP``, here passed in the environment), so the real
``qsnews crawl`` runs unchanged: robots.txt, offsite filter, redirects,
middlewares, WARC, cleaning and archive all see the real URL.
"""
from __future__ import annotations

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Page:
    body: bytes
    content_type: str | None = "text/html; charset=utf-8"
    status: int = 200
    headers: tuple = ()


class _Server(ThreadingHTTPServer):
    """Python's default listen backlog is 5.  While a crawler under test keeps the machine's cores busy,
    this server's threads fall behind, connections pile up and the kernel drops SYNs (ListenOverflows in
    ``nstat``); each drop stalls the client for the 1 s SYN retransmission timeout.  Real web servers
    queue hundreds (nginx: 511)."""

    request_queue_size = 512


@dataclass
class Site:
    """``{(host, path): Page}`` served on loopback; ``requests`` lists every (host, path) asked for."""

    pages: dict
    delay: float = 0.0
    requests: list = field(default_factory=list)

    def __post_init__(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                target = urlsplit(self.path)
                host = (target.netloc or self.headers.get("Host", "")).split(":")[0].lower()
                path = target.path + (f"?{target.query}" if target.query else "")
                site.requests.append((host, path))
                if site.delay:
                    time.sleep(site.delay)
                page = site.pages.get((host, path)) or Page(b"<html><body>not found</body></html>", status=404)
                self.send_response(page.status)
                if page.content_type is not None:
                    self.send_header("Content-Type", page.content_type)
                for name, value in page.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(page.body)))
                self.end_headers()
                try:
                    self.wfile.write(page.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def host_map(self) -> dict:
        return {host: f"127.0.0.1:{self.port}" for host, _ in self.pages}

    def __enter__(self) -> "Site":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


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
