"""Serve the bundled sample sites on loopback, one virtual host per folder of crawler/demo_sites.

The real spiders crawl these with their real start URLs: crawler.middlewares.HostMapMiddleware
sends each mapped host's requests here as HTTP proxy requests (absolute URI),
so the host is read from the request line, else from the Host header.

A site folder may hold ``_site.toml`` (never served) with:
  mode = "challenge-412"        every path answers 412 with a 瑞数-style $_ts page
  trap = "/path/calendar.html"  a calendar that links to the next day for ever
  [content_type]                per-path Content-Type (e.g. a GBK page sent as UTF-8)
  [dataproxy]                   a Hanweb list proxy: ``path`` (e.g. "/module/web/jpage/dataproxy.jsp")
                                answers POST or GET from ``_records/col<columnid>.html`` (one record per line)
  conditional = false           ignore If-None-Match / If-Modified-Since (default: answer 304 when unchanged)

Files are sent with an ETag and Last-Modified, as real servers do, so conditional GET can be tested.

    python -m crawler.demo_server [--port 8123]   # prints the host map, serves until Ctrl-C
"""
from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import mimetypes
import threading
import tomllib
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SITES = Path(__file__).parent / "demo_sites"
TYPES = {".html": "text/html", ".htm": "text/html", ".shtml": "text/html", ".txt": "text/plain",
         ".pdf": "application/pdf", ".css": "text/css", ".js": "application/javascript"}

CHALLENGE_412 = """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta id="9DhefwqGPrzGxEp9hPaoag" content="demo-challenge-token"><script type="text/javascript" r="m">
var $_ts=window['$_ts'];if(!$_ts)$_ts=window['$_ts']={};$_ts.nsd=20817;$_ts.cd="qsnews-demo-not-a-real-challenge";
</script><script type="text/javascript" charset="utf-8" src="/4QbVtADbnLVIc/c.FxJzG50F.js" r="m"></script>
</head><body></body></html>"""


def hosts(root: Path = SITES) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def host_map(port: int, root: Path = SITES) -> dict[str, str]:
    """QSNEWS_HOST_MAP for a server on ``port``: every sample host to the loopback address."""
    return {host: f"127.0.0.1:{port}" for host in hosts(root)}


def site_config(site: Path) -> dict:
    config = site / "_site.toml"
    return tomllib.loads(config.read_text(encoding="utf-8")) if config.exists() else {}


def dataproxy_page(site: Path, params: dict) -> bytes:
    """Hanweb's dataproxy.jsp: records startrecord..endrecord (POST form), or page N of the GET form,
    as the datastore XML the real one answers with."""
    column = params.get("columnid", "")
    file = site / "_records" / f"col{column}.html"
    rows = [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()] if file.is_file() else []
    per_page = int(params.get("perpage") or 15)
    if "startrecord" in params:
        start, end = int(params["startrecord"]), int(params.get("endrecord") or params["startrecord"])
        nextgroup = ""
    else:
        page = int(params.get("page") or 1)
        start, end = (page - 1) * per_page + 1, page * per_page
        more = {**params, "page": str(page + 1)}
        link = "dataproxy.jsp?" + "&amp;".join(f"{k}={v}" for k, v in more.items())
        nextgroup = f'<nextgroup><![CDATA[<a href="{link}"></a>]]></nextgroup>' if end < len(rows) else ""
    chosen = "".join(f"<record><![CDATA[\n{row}]]></record>\n" for row in rows[start - 1:end])
    pages = -(-len(rows) // per_page)
    return (f'<?xml version="1.0" encoding="UTF-8"?><datastore><totalrecord>{len(rows)}</totalrecord>'
            f'<totalpage>{pages}</totalpage>{nextgroup}<recordset>\n{chosen}</recordset></datastore>').encode("utf-8")


def calendar_page(path: str, query: str) -> bytes:
    """One day of an endless calendar: it always links to the next day."""
    value = parse_qs(query).get("date", ["2024-06-01"])[0]
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = date(2024, 6, 1)
    nxt = day + timedelta(days=1)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>信息日历 {day}</title></head><body>'
            f'<div class="calendar"><h2>{day:%Y年%m月%d日} 发布信息</h2><p>当日无发布信息。</p>'
            f'<a href="{path}?date={day - timedelta(days=1)}">前一天</a> '
            f'<a href="{path}?date={nxt}">后一天</a> <a href="{path}?date={nxt}">下一页</a></div>'
            f'</body></html>').encode("utf-8")


class Handler(BaseHTTPRequestHandler):
    server_version = "qsnews-demo/0.1"
    root: Path = SITES

    def log_message(self, format, *args):  # quiet: tests read items, not access logs
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_POST(self):
        form = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
        self.do_GET(form=form)

    def do_GET(self, head: bool = False, form: str | None = None):
        target = urlsplit(self.path)
        host = (target.netloc or self.headers.get("Host", "")).split(":")[0].lower()
        site = self.root / host
        if not host or not site.is_dir():
            return self.send(404, b"unknown host", "text/plain")
        config = site_config(site)
        if config.get("mode") == "challenge-412":
            # No Set-Cookie, unlike the real thing: Scrapy's cookie jar would look up the public
            # suffix list on the network, and the demo and tests stay on loopback.
            return self.send(412, CHALLENGE_412.encode("utf-8"), "text/html", head=head)
        path = target.path or "/"
        if config.get("dataproxy", {}).get("path") == path:
            params = {k: v[-1] for k, v in parse_qs(target.query).items()}
            params.update({k: v[-1] for k, v in parse_qs(form or "").items()})
            return self.send(200, dataproxy_page(site, params), "text/xml; charset=UTF-8", head=head)
        if form is not None:
            return self.send(405, b"<html><body><h1>405 Method Not Allowed</h1></body></html>", "text/html")
        if config.get("trap") == path:
            return self.send(200, calendar_page(path, target.query), "text/html; charset=utf-8", head=head)
        if path.endswith("/"):
            path += "index.html"
        file = (site / path.lstrip("/")).resolve()
        hidden = any(part.startswith("_") for part in Path(path).parts)
        if hidden or not file.is_file() or site.resolve() not in file.parents:
            return self.send(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html", head=head)
        ctype = config.get("content_type", {}).get(path) or TYPES.get(file.suffix) or (
            mimetypes.guess_type(file.name)[0] or "application/octet-stream")
        body = file.read_bytes()
        validators = (("ETag", f'"{hashlib.sha1(body).hexdigest()[:16]}"'),
                      ("Last-Modified", email.utils.formatdate(int(file.stat().st_mtime), usegmt=True)))
        if config.get("conditional", True) and self.unchanged(*(value for _, value in validators)):
            return self.send(304, b"", None, extra=validators, head=True)
        self.send(200, body, ctype, extra=validators, head=head)

    def unchanged(self, etag: str, last_modified: str) -> bool:
        """RFC 9110: If-None-Match decides when present, else If-Modified-Since."""
        if self.headers.get("If-None-Match"):
            return etag in [tag.strip() for tag in self.headers["If-None-Match"].split(",")]
        since = self.headers.get("If-Modified-Since")
        try:
            return bool(since) and email.utils.parsedate_to_datetime(since) >= email.utils.parsedate_to_datetime(
                last_modified)
        except (TypeError, ValueError):
            return False

    def send(self, status: int, body: bytes, ctype: str | None, extra=(), head: bool = False):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class DemoServer:
    """``with DemoServer() as port:`` serves the sample sites on 127.0.0.1:port in a thread."""

    def __init__(self, port: int = 0, root: Path = SITES):
        handler = type("SitesHandler", (Handler,), {"root": Path(root)})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def __enter__(self) -> int:
        self.thread.start()
        return self.port

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    with DemoServer(args.port) as port:
        print(json.dumps(host_map(port), ensure_ascii=False), flush=True)
        print(f"serving {len(hosts())} sample sites on 127.0.0.1:{port}; Ctrl-C stops", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
