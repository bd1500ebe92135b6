"""Real redis-server and scrapyd for the scale-out tests: each on a free loopback port, in a temp dir, stopped after.

redis-server is a Debian package: `make test` installs it (deploy/ensure-redis.sh).
A missing one fails the tests rather than skipping them, so CI cannot pass without it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from crawler.demo_server import DemoServer
from loopback import free_port


def wait_for(check, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def redis_server(tmp: Path):
    """``with redis_server(tmp) as url:`` a throwaway redis-server on 127.0.0.1, no persistence."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run deploy/ensure-redis.sh (make test does)"
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        wait_for(lambda: _pings(client), 10, "redis-server")
        yield url
    finally:
        stop(process)


def _pings(client) -> bool:
    import redis

    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@contextmanager
def scrapyd(tmp: Path, pythonpath: Path):
    """``with scrapyd(tmp, checkout) as url:`` scrapyd on 127.0.0.1 with its eggs, logs and dbs in ``tmp``,
    its jobs importing from ``pythonpath`` first."""
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {tmp / 'eggs'}\nlogs_dir = {tmp / 'logs'}\nitems_dir =\ndbs_dir = {tmp / 'dbs'}\n"
        "poll_interval = 0.5\nmax_proc = 2\n", encoding="utf-8")
    log = open(tmp / "scrapyd.out", "wb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(pythonpath), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "scrapyd"], cwd=tmp, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: _answers(url + "daemonstatus.json"), 30, "scrapyd")
        yield url
    finally:
        stop(process)
        log.close()


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except OSError:
        return False


class LoggedDemoServer(DemoServer):
    """The bundled sample sites, answering each request after ``delay`` s and logging (time, URL) of each.

    The delay keeps a crawl of these few pages running long enough to kill a worker mid-way;
    the log is the ground truth of what was fetched how often.
    """

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.requests: list[tuple[float, str]] = []
        base, log = self.httpd.RequestHandlerClass, self.requests

        class Handler(base):
            def do_GET(self, head: bool = False):
                log.append((time.monotonic(), self.path))
                time.sleep(delay)
                super().do_GET(head=head)

        self.httpd.RequestHandlerClass = Handler
