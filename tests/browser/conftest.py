"""Browser tests: a real ``datasette serve`` over a small archive, driven by Playwright with Debian's chromium.

The server is started exactly as deployed (``archive.serve.datasette_argv``)
on a free loopback port; the browser may talk to that port only — every other
request is aborted and recorded, so a page that needs a CDN fails the tests.
Screenshots go to ``test-artifacts/`` at the repository root (gitignored) and
are listed at the end of the run.

Chromium: ``/usr/bin/chromium`` (or ``$QSNEWS_CHROMIUM``), installed by
``tests/browser/ensure_chromium.sh`` (``make test`` runs it).  Without it the
tests fail with that hint; set ``QSNEWS_SKIP_BROWSER=1`` to skip them knowingly.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from archive.serve import datasette_argv
from archive.store import Archive

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("QSNEWS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SEEN = "2024-06-01T00:00:00+00:00"
SCRIPT_TEXT = "<script>window.__pwned = 1; document.title = 'pwned'</script>"

# Realistic articles: mixed scripts, several provinces and months.  Keys are how the tests refer to them.
ARTICLES = {
    "elevator_simplified": {
        "url": "http://scjgj.hangzhou.gov.cn/art/2023/3/2/art_1229_1.html", "title": "杭州市开展电梯安全专项检查",
        "province": "浙江省", "prefecture": "杭州市", "published_at": "2023-03-02T09:30:00+08:00",
        "source_name": "杭州市市场监督管理局", "section": "工作动态",
        "paragraphs": ["近日，杭州市市场监管局组织对全市住宅小区电梯开展安全专项检查。",
                       "检查共抽查电梯312台，发现隐患17处，已责令维保单位限期整改。"],
    },
    "elevator_jiangsu": {
        "url": "http://scjgj.nanjing.gov.cn/xwzx/202304/t20230411_1.html", "title": "南京市电梯应急救援演练",
        "province": "江苏省", "prefecture": "南京市", "published_at": "2023-04-11T10:00:00+08:00",
        "source_name": "南京市市场监督管理局", "section": "特种设备",
        "paragraphs": ["南京市特种设备安全监察部门组织开展电梯困人应急救援演练。"],
    },
    "elevator_guangdong": {
        "url": "http://amr.gd.gov.cn/zwdt/content/post_2.html", "title": "广东省通报电梯维保质量抽查结果",
        "province": "广东省", "prefecture": "广州市", "published_at": "2023-04-20T15:00:00+08:00",
        "source_name": "广东省市场监督管理局", "section": "质量抽查",
        "paragraphs": ["广东省市场监管局通报2023年电梯维护保养质量抽查结果。"],
    },
    "uniform_traditional": {
        "url": "http://www.zjzj.gov.cn/art/2016/4/18/art_3.html", "title": "市質監局開展校服質量抽查",
        "province": "浙江省", "prefecture": "温州市", "published_at": "2016-04-18T08:32:30+08:00",
        "source_name": "溫州質監", "section": "質量抽查",
        "paragraphs": ["市質監局對全市中小學校服開展質量抽查，共抽取樣品45批次。"],
    },
    "script": {
        "url": "http://scjgj.chengdu.gov.cn/art/2024/1/5/art_4.html", "title": "成都市发布儿童玩具消费提示",
        "province": "四川省", "prefecture": "成都市", "published_at": "2024-01-05T11:00:00+08:00",
        "source_name": "成都市市场监督管理局", "section": "消费提示",
        "paragraphs": ["成都市市场监管局提醒消费者选购儿童玩具时注意查看3C标志。", SCRIPT_TEXT],
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def archive_ids(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "browser.db"
    ids = {}
    with Archive(path) as arc:
        source = arc.upsert_source({"name": "browser-test"})
        for key, a in ARTICLES.items():
            record = {k: v for k, v in a.items() if k != "paragraphs"}
            record["body"] = "\n".join(a["paragraphs"])
            record["paragraphs"] = [{"position": i, "kind": "body", "text": t} for i, t in enumerate(a["paragraphs"])]
            ids[key], _ = arc.upsert_article(record, source, SEEN)
    return path, ids, ARTICLES


@pytest.fixture(scope="session")
def server(archive_ids):
    """Base URL of ``datasette serve`` (as deployed) over the test archive, on a free loopback port."""
    path = archive_ids[0]
    port = _free_port()
    argv = datasette_argv(path, host="127.0.0.1", port=port)
    log = path.with_suffix(".log")
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "datasette", *argv[1:]], stdout=out, stderr=subprocess.STDOUT,
                                cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            if proc.poll() is not None:
                pytest.fail(f"datasette exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(base + "/-/plugins.json", timeout=2) as response:
                    if b"qsnews" not in response.read():
                        pytest.fail("datasette is running without the qsnews plugin (is the package installed?)")
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("datasette did not start within 15 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: while Playwright's sync API runs it owns an event loop, and ``asyncio.run`` in
    other test modules (the Datasette client tests) must not find it still running."""
    if os.environ.get("QSNEWS_SKIP_BROWSER"):
        pytest.skip("QSNEWS_SKIP_BROWSER is set")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: run tests/browser/ensure_chromium.sh as root "
                    "(or set QSNEWS_CHROMIUM, or QSNEWS_SKIP_BROWSER=1 to skip)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, server):
    """A fresh page that may only reach the test server; anything else is aborted and fails the test."""
    context = browser.new_context(base_url=server, locale="zh-CN", viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    outside = []

    def route(r):
        if r.request.url.startswith(server + "/") or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not outside, f"pages tried to leave the test server (offline site must not): {outside}"
    assert not errors, f"JavaScript errors on the page: {errors}"


SCREENSHOTS: list[Path] = []


@pytest.fixture()
def screenshot(page):
    """``screenshot(name)`` saves the full page to test-artifacts/<name>.png and prints the path."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        target = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 0
        SCREENSHOTS.append(target)
        print(f"screenshot: {target}")
        return target

    return take


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS:
        terminalreporter.section("browser screenshots")
        for path in SCREENSHOTS:
            terminalreporter.write_line(str(path))
