"""The archive is read-only on the web: Datasette answers GET, HEAD and OPTIONS only.

Nothing public writes to the archive (only the crawler does, through
``archive.store``), so every other method gets 405 before Datasette sees
it.  Datasette 0.65 already has no write API and runs no write SQL, but some
of its views answer a stray POST with a 500 (table and canned-query pages)
or run it as a GET (plugin routes); refusing them all at the door makes
"visitors cannot write" one rule that holds for every route, including
routes a later plugin or Datasette 1.0 (``/-/insert``, ``/-/create``) adds.
"""
from __future__ import annotations

from datasette import hookimpl

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def read_only(scope, receive, send):
            if scope["type"] == "http" and scope.get("method", "GET").upper() not in READ_METHODS:
                await send({"type": "http.response.start", "status": 405, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), (b"allow", b"GET, HEAD, OPTIONS")]})
                await send({"type": "http.response.body", "body": b"this archive is read-only\n"})
                return
            await app(scope, receive, send)
        return read_only
    return wrap
