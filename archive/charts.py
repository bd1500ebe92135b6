"""Charts of the archive: articles per month and per province, as SVG drawn on the server.

No chart library and no script: the site must work offline (no CDN), so the
bars are computed here and written as plain SVG.  Served by the plugin as

* ``/-/charts/month.svg`` and ``/-/charts/province.svg`` (``image/svg+xml``),
  which the articles table page shows as ``<img class="qsnews-chart">`` (see
  metadata.yml); the plugin's body script gives them the page's own query
  string, so they follow the table's search box and facet filters;
* ``/-/charts``, a page with both charts inline.

Both accept what the export accepts: ``q`` or ``_search`` and equality filters
on the facet columns (``province=`` / ``province__exact=``); other table-page
arguments (sorting, paging, other filters) are ignored, and the caption says
which filters were applied.  Counts are cached per database file state.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

from markupsafe import Markup, escape

from archive import queries

WIDTH = 760
MONTH_HEIGHT = 220
BAR = "#3b6ea5"
UNDATED = "无日期"
UNKNOWN = "未知地区"
CHARTS = ("month", "province")


def month_counts(conn, q: str | None, filters: dict) -> list[tuple[str, int]]:
    """(YYYY-MM, articles) in date order, gaps filled with zero; undated articles are left out."""
    where, params = queries._where(q, filters)
    dated = f"{where} and" if where else " where"
    rows = conn.execute(
        f"select substr(a.published_at, 1, 7) as month, count(*) from articles a{dated} a.published_at is not null "
        "group by month order by month", params).fetchall()
    found = {m: n for m, n in rows if m and len(m) == 7 and m[4] == "-" and m[:4].isdigit() and m[5:].isdigit()}
    if not found:
        return []
    first, last = min(found), max(found)
    months, (y, m) = [], (int(first[:4]), int(first[5:]))
    while f"{y:04d}-{m:02d}" <= last:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return [(month, found.get(month, 0)) for month in months]


def province_counts(conn, q: str | None, filters: dict) -> list[tuple[str, int]]:
    """(province, articles), most first; articles without a province count as 未知地区."""
    where, params = queries._where(q, filters)
    rows = conn.execute(
        f"select coalesce(nullif(a.province, ''), '{UNKNOWN}') as name, count(*) as n from articles a{where} "
        f"group by name order by name = '{UNKNOWN}', n desc, name", params).fetchall()
    return [(name, n) for name, n in rows]


def _nice_max(value: int) -> int:
    """A round axis maximum >= value (1, 2, 5 x 10^k)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= value:
                return step * m
        step *= 10


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _empty(title: str, height: int = 60) -> Markup:
    return _svg(WIDTH, height, title, [
        f'<text x="8" y="20" font-weight="bold">{escape(title)}</text>',
        '<text x="8" y="44" fill="#666">没有文章 No articles</text>'])


def month_svg(counts: list[tuple[str, int]], title: str = "每月文章数 Articles per month") -> Markup:
    """Vertical bars, one per month, a year label under each January (thinned when crowded)."""
    if not counts:
        return _empty(title)
    left, right, top, bottom = 48, 8, 28, 36
    plot_w, plot_h = WIDTH - left - right, MONTH_HEIGHT - top - bottom
    peak = _nice_max(max(n for _, n in counts) or 1)
    step = plot_w / len(counts)
    body = [f'<text x="8" y="16" font-weight="bold">{escape(title)}</text>']
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        body.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#666">{int(peak * frac):,}</text>')
    years = sorted({month[:4] for month, _ in counts})
    every = max(1, len(years) // 12 + (1 if len(years) % 12 else 0)) if len(years) > 12 else 1
    for i, (month, n) in enumerate(counts):
        x = left + i * step
        h = plot_h * n / peak
        body.append(f'<rect class="bar" x="{x + step * 0.1:.2f}" y="{top + plot_h - h:.2f}" '
                    f'width="{max(step * 0.8, 0.5):.2f}" height="{h:.2f}" fill="{BAR}">'
                    f"<title>{month}: {n:,}</title></rect>")
        if x > WIDTH - right - 28:  # no room for a label at the right edge
            continue
        if (month.endswith("-01") or i == 0) and int(month[:4]) % every == 0:
            label = month[:4] if len(counts) > 18 else month
            body.append(f'<text x="{x:.1f}" y="{MONTH_HEIGHT - bottom + 16}" fill="#333">{label}</text>')
        elif len(counts) <= 18:
            body.append(f'<text x="{x:.1f}" y="{MONTH_HEIGHT - bottom + 16}" fill="#333">{month[5:]}</text>')
    body.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#333"/>')
    return _svg(WIDTH, MONTH_HEIGHT, title, body)


def province_svg(counts: list[tuple[str, int]], title: str = "各省文章数 Articles per province") -> Markup:
    """Horizontal bars, most articles first, the count at the end of each bar."""
    if not counts:
        return _empty(title)
    row, top, label_w, right = 18, 28, 120, 60
    height = top + row * len(counts) + 8
    peak = max(n for _, n in counts) or 1
    plot_w = WIDTH - label_w - right
    body = [f'<text x="8" y="16" font-weight="bold">{escape(title)}</text>']
    for i, (name, n) in enumerate(counts):
        y = top + i * row
        w = plot_w * n / peak
        body.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(name)}</text>')
        body.append(f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{max(w, 1):.2f}" height="{row - 5}" '
                    f'fill="{BAR}"><title>{escape(name)}: {n:,}</title></rect>')
        body.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" fill="#333">{n:,}</text>')
    return _svg(WIDTH, height, title, body)


def _state(path) -> tuple:
    """Changes whenever the database (or its WAL) is written: the cache key's freshness part."""
    out = []
    for suffix in ("", "-wal"):
        try:
            st = os.stat(f"{path}{suffix}")
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()  # Datasette runs queries in a thread pool
CACHE_SIZE = 256


def counts(conn, path, chart: str, q: str | None, filters: dict) -> list[tuple[str, int]]:
    """Counts for ``chart`` ('month' or 'province'), cached while the database file is unchanged."""
    if chart not in CHARTS:
        raise ValueError(f"unknown chart {chart!r}")
    compute = month_counts if chart == "month" else province_counts
    if not path:  # in-memory database: nothing to key the cache on
        return compute(conn, q, filters)
    key = (str(path), _state(path), chart, q or "", tuple(sorted(filters.items())))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    found = compute(conn, q or None, filters)
    with _LOCK:
        _CACHE[key] = found
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return found


def caption(q: str | None, filters: dict) -> str:
    parts = ([f"检索 search: {q}"] if q else []) + [f"{k} = {v}" for k, v in filters.items()]
    return "；".join(parts) if parts else "全部文章 All articles"


def render(chart: str, rows: list[tuple[str, int]], q: str | None, filters: dict) -> Markup:
    label = caption(q, filters)
    if chart == "month":
        return month_svg(rows, f"每月文章数 Articles per month — {label}")
    return province_svg(rows, f"各省文章数 Articles per province — {label}")


# -- Datasette views (routes registered by archive.datasette_plugin) --------------


async def _chart_args(datasette, request):
    from archive.datasette_plugin import _archive, _filters

    _, db = await _archive(datasette, request)
    q = (request.args.get("q") or request.args.get("_search") or "").strip() or None
    return db, q, _filters(request)


async def svg_view(datasette, request):
    """``/-/charts/<month|province>.svg``: one chart as an SVG image."""
    from datasette.utils.asgi import Response

    db, q, filters = await _chart_args(datasette, request)
    chart = request.url_vars["chart"]
    rows = await db.execute_fn(lambda conn: counts(conn, db.path, chart, q, filters))
    return Response(str(render(chart, rows, q, filters)), content_type="image/svg+xml; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


async def page_view(datasette, request):
    """``/-/charts``: both charts inline, with the same filters."""
    from datasette.utils.asgi import Response

    db, q, filters = await _chart_args(datasette, request)
    charts = []
    for chart in CHARTS:
        rows = await db.execute_fn(lambda conn, chart=chart: counts(conn, db.path, chart, q, filters))
        charts.append(render(chart, rows, q, filters))
    return Response.html(await datasette.render_template("qsnews_charts.html", {
        "charts": charts, "q": q or "", "caption": caption(q, filters),
    }, request=request))
