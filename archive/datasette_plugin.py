"""Datasette plugin: Chinese search for the archive, article pages, raw copies, Excel-friendly CSV.

Registered through the ``datasette`` entry point (``qsnews = "archive.datasette_plugin"``).
Only hooks and APIs that exist in both Datasette 0.65 and the 1.0 alphas are used.

* ``filters_from_request`` answers the articles table's own search box
  (``?_search=``): the string is translated for the bigram index and the page
  shows the newest ``queries.SEARCH_WINDOW`` matches (facet filters applied
  inside the window), with the exact number of matches in its description.
  Datasette's built-in search would count, sort and facet every hit, which
  takes seconds for common words at a million articles.
* ``prepare_connection`` gives every connection to an archive database
  ``qsnews_query`` (the same translation under a name that fails loudly when
  the plugin is missing, for the canned queries), ``escape_fts`` for hand-made
  ``_fts_table`` URLs, and the index function the triggers call.
* Routes (``/-/search``, ``/-/article/<id>``, ``/-/article/<id>/raw``,
  ``/-/export.csv``, ``/-/charts`` and its SVGs from ``archive.charts``) serve
  the first database that is a qsnews archive.
"""
from __future__ import annotations

import csv
import io
import json
from functools import partial
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from datasette import hookimpl
from datasette.filters import FilterArguments
from datasette.utils.asgi import Forbidden, NotFound, Response
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup

from archive import charts, queries, schema
from archive.raw import read_raw
from archive.readonly import asgi_wrapper  # noqa: F401  (a hook: every write method gets 405)
from archive.search import parse_query, register_functions, to_fts_query
from archive.snippets import highlight, snippet

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_SIZE = 20
EXPORT_CHUNK = 500
SHOWN_KINDS = ("body", "heading")
BOM = "\ufeff"
# Ignored by the export: Datasette's own table-page switches that do not filter rows.
EXPORT_IGNORED = {"_sort", "_sort_desc", "_facet", "_facet_array", "_facet_date", "_size", "_next", "_labels",
                  "_searchmode", "page"}


@hookimpl(trylast=True)
def prepare_connection(conn):
    if schema.is_archive(conn):
        conn.create_function("escape_fts", 1, to_fts_query, deterministic=True)
        conn.create_function("qsnews_query", 1, to_fts_query, deterministic=True)
        register_functions(conn)  # so a Datasette write plugin keeps the index current too


@hookimpl(trylast=True)
def filters_from_request(request, database, table, datasette):
    """``?_search=`` on the articles table, over the newest matches; runs after Datasette's own search
    filter (which finds no FTS table to use) so the search box it hides is shown again."""
    if table != "articles":
        return None

    async def inner():
        db = datasette.get_database(database)
        if not await db.execute_fn(schema.is_archive):
            return None
        q = (request.args.get("_search") or "").strip()
        context = {"supports_search": True, "search": q}
        if not q:
            return FilterArguments([], extra_context=context)
        filters = _filters(request)
        if not _only_facet_filters(request):  # another filter applies after the window: no window then
            sql, params = queries.window_sql(filters, prefix="qsnews_")
            params.update(qsnews_match=to_fts_query(q), qsnews_window=-1)
            return FilterArguments([f"id in ({sql})"], params, [f'搜索 search "{q}"'], context)
        # The window is walked once, here; the table's count, rows and facets then read just those ids.
        ids, matches, exact = await db.execute_fn(lambda conn: queries.window_ids(conn, q, filters))
        return FilterArguments(["id in (select value from json_each(:qsnews_ids))"], {"qsnews_ids": json.dumps(ids)},
                               [_search_description(q, matches, exact, queries.SEARCH_WINDOW)], context)

    return inner


def _only_facet_filters(request) -> bool:
    facet_args = {*queries.FILTER_COLUMNS, *(f"{c}__exact" for c in queries.FILTER_COLUMNS)}
    filters = [key for key in request.args if not key.startswith("_") or "__" in key or key == "_where"]
    return all(key in facet_args for key in filters)


def _search_description(q: str, matches: int, exact: bool, window: int) -> str:
    found = f"{matches:,}{'' if exact else '+'}"
    if window < matches or not exact:
        return (f'搜索 search "{q}"：最新 the newest {window:,} of {found} 篇匹配 matching articles'
                f"（全部结果见排序检索与 CSV 导出 — ranked search and CSV export cover all）")
    return f'搜索 search "{q}"：{found} 篇 articles'


@hookimpl
def prepare_jinja2_environment(env):
    """Add archive/templates after every other template source.

    Datasette only finds a plugin's templates/ when the plugin is a package;
    this one is a module.  Appending keeps ``--template-dir`` overrides first.
    """
    env.loader = ChoiceLoader([env.loader, FileSystemLoader(str(TEMPLATES))])


@hookimpl
def register_routes():
    return [
        (r"^/-/search$", search_view),
        (r"^/-/article/(?P<id>\d+)$", article_view),
        (r"^/-/article/(?P<id>\d+)/raw$", raw_view),
        (r"^/-/export\.csv$", export_view),
        (r"^/-/charts$", charts.page_view),
        (r"^/-/charts/(?P<chart>month|province)\.svg$", charts.svg_view),
    ]


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Article titles on the table page link to the reading view."""
    if table == "articles" and column == "title" and value:
        href = datasette.urls.path(f"/-/article/{row['id']}")
        return Markup('<a href="{}">{}</a>').format(href, value)
    return None


@hookimpl
def extra_body_script(view_name, table):
    """Carry the table page's search and facet filters over to the search, CSV and chart links in its description."""
    if view_name == "table" and table == "articles":
        return ("document.querySelectorAll('a.qsnews-export, a.qsnews-search, a.qsnews-charts')"
                ".forEach(a => { a.search = location.search; });"
                "document.querySelectorAll('img.qsnews-chart')"
                ".forEach(i => { const u = new URL(i.src); u.search = location.search; i.src = u.href; });")
    return None


async def _archive(datasette, request):
    """(database name, Database) of the archive, after checking the actor may read its articles."""
    for name, db in datasette.databases.items():
        if name.startswith("_"):
            continue
        if await db.execute_fn(schema.is_archive):
            await _ensure_can_view(datasette, request, name)
            return name, db
    raise NotFound("no qsnews archive database is being served")


async def _ensure_can_view(datasette, request, name):
    if hasattr(datasette, "allowed"):  # Datasette >= 1.0a20: resource-based permissions
        from datasette.resources import TableResource

        if not await datasette.allowed(action="view-table", resource=TableResource(name, "articles"),
                                       actor=request.actor):
            raise Forbidden("view-table articles")
    else:
        await datasette.ensure_permissions(
            request.actor, [("view-table", (name, "articles")), ("view-database", name), "view-instance"])


def _filters(request) -> dict:
    """Facet equality filters, as Datasette writes them (``province=`` or ``province__exact=``)."""
    found = {c: request.args.get(c) or request.args.get(f"{c}__exact") for c in queries.FILTER_COLUMNS}
    return {c: v for c, v in found.items() if v}


async def search_view(datasette, request):
    """Ranked results (bm25, title weighted) with snippets highlighted in the article's own script."""
    _, db = await _archive(datasette, request)
    q = (request.args.get("q") or request.args.get("_search") or "").strip()
    filters = _filters(request)
    page_arg = request.args.get("page") or "1"
    page = int(page_arg) if page_arg.isdigit() and int(page_arg) > 0 else 1
    result, hits = None, []
    if q:
        result = await db.execute_fn(
            lambda conn: queries.ranked_search(conn, q, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE))
        parsed = parse_query(q)
        hits = [{**row, "title_html": highlight(row["title"] or "（无标题）", parsed),
                 "snippet_html": snippet(row["body"], parsed), "region": _region(row)} for row in result["rows"]]
    stories = result["stories"] if result else 0
    params = {"q": q, **filters}
    return Response.html(await datasette.render_template("qsnews_search.html", {
        "q": q, "filters": filters, "result": result, "total": stories, "hits": hits, "page": page,
        "window": queries.SEARCH_WINDOW,
        "prev_url": f"?{urlencode({**params, 'page': page - 1})}" if page > 1 else None,
        "next_url": f"?{urlencode({**params, 'page': page + 1})}" if page * PAGE_SIZE < stories else None,
        "export_url": datasette.urls.path("/-/export.csv") + "?" + urlencode(params),
        "fts_query": to_fts_query(q) if q else "",
    }, request=request))


async def article_view(datasette, request):
    """One article to read: headings and body paragraphs, metadata, links, dropped paragraphs on demand."""
    name, db = await _archive(datasette, request)
    article_id = int(request.url_vars["id"])
    found = await db.execute_fn(lambda conn: queries.article(conn, article_id))
    if found is None:
        raise NotFound(f"no article {article_id}")
    paragraphs = found.pop("paragraphs")
    return Response.html(await datasette.render_template("qsnews_article.html", {
        "article": found,
        "shown": [p for p in paragraphs if p["kind"] in SHOWN_KINDS],
        "dropped": [p for p in paragraphs if p["kind"] not in SHOWN_KINDS],
        "flags": json.loads(found["flags"] or "[]"),
        "region": _region(found),
        "original_url": _web_url(found["url"]),
        "raw_url": datasette.urls.path(f"/-/article/{article_id}/raw") if found["page"] else None,
        "row_url": datasette.urls.table(name, "articles") + f"/{article_id}",
    }, request=request))


async def raw_view(datasette, request):
    """The fetched page as plain text: crawled markup and scripts are shown, never run."""
    _, db = await _archive(datasette, request)
    article_id = int(request.url_vars["id"])
    page = await db.execute_fn(lambda conn: queries.raw_page(conn, article_id))
    if page is None or not db.path:
        raise NotFound(f"no archived copy of article {article_id}")
    try:
        text = read_raw(db.path, page)
    except FileNotFoundError:
        raise NotFound(f"the archived copy of article {article_id} is missing from the WARC store")
    return Response.text(text, headers={"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})


async def export_view(datasette, request, send):
    """All matching articles as UTF-8 CSV with a byte-order mark, so Excel and WPS open it as Chinese.

    Accepts ``q`` (or the table page's ``_search``) and equality filters on
    the facet columns; any other filter is refused rather than silently
    exporting more rows than the page showed.  Streamed straight to ASGI
    ``send`` in chunks, so a whole-archive export never sits in memory.
    """
    _, db = await _archive(datasette, request)
    q = request.args.get("q") or request.args.get("_search") or ""
    known = {"q", "_search", *EXPORT_IGNORED, *queries.FILTER_COLUMNS,
             *(f"{c}__exact" for c in queries.FILTER_COLUMNS)}
    unknown = [k for k in request.args if k not in known]
    if unknown:
        return Response.text(f"export cannot apply these filters: {', '.join(unknown)}", status=400)
    filters = _filters(request)
    filename = quote(f"qsnews-{q or 'articles'}.csv")
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/csv; charset=utf-8"),
        (b"content-disposition", f"attachment; filename=\"qsnews-export.csv\"; filename*=UTF-8''{filename}".encode()),
    ]})
    ids = await db.execute_fn(lambda conn: queries.export_ids(conn, q, filters))
    body = BOM + _csv_lines([], header=True)
    for start in range(0, len(ids), EXPORT_CHUNK):
        chunk = ids[start:start + EXPORT_CHUNK]
        rows = await db.execute_fn(partial(queries.export_rows, ids=chunk))
        await send({"type": "http.response.body", "body": body.encode("utf-8"), "more_body": True})
        body = _csv_lines(rows, header=False)
    await send({"type": "http.response.body", "body": body.encode("utf-8"), "more_body": False})
    return None


def _csv_lines(rows: list[dict], header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(queries.EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in queries.EXPORT_COLUMNS])
    return out.getvalue()


def _cell(value):
    """Spreadsheets run cells starting with = + - @ as formulas; crawled text must not, so prefix a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _region(row: dict) -> str:
    return " ".join(part for part in (row.get("province"), row.get("prefecture"), row.get("county")) if part)


def _web_url(url: str | None) -> str | None:
    """Only http(s) URLs become links: a crawled ``javascript:`` URL must not be clickable."""
    return url if url and urlsplit(url).scheme in ("http", "https") else None
