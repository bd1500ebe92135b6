"""Publication dates: where to look, and how to read Chinese date strings.

Order of trust: the page's own meta tags, then labelled lines in the text
(发布时间：…), then the date a CMS writes into the URL, then the date the list
page showed next to the link.  Times are China Standard Time; the result is
ISO 8601 with ``+08:00``.  Regexes read the usual shapes; dateparser is asked
only about strings they cannot read.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import dateparser

CHINA = timezone(timedelta(hours=8))
META_KEYS = ("pubdate", "publishdate", "maketime", "article:published_time", "pubtime", "publish_time",
             "firstpublishedtime", "dc.date", "date")
# Portals write the weekday and a 12-hour clock between date and time: '2024年5月22日週三 下午2:05'.
DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?:星期|周|週|礼拜|禮拜)[一二三四五六日天])?"
    r"(?:\s*T?\s*(?P<half>上午|下午|晚上)?\s*(?P<H>\d{1,2})\s*[:：时時]\s*(?P<M>\d{1,2})"
    r"(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
    r"(?:\.\d+)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?")
AFTERNOON = ("下午", "晚上")
URL_DATES = (
    re.compile(r"/t(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})_\d+"),            # TRS: /202101/t20210105_123.html
    re.compile(r"/art/(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})/"),       # Hanweb: /art/2021/1/5/
    re.compile(r"/(?P<y>\d{4})-(?P<m>\d{2})/(?P<d>\d{2})/"),               # /2021-01/05/
    re.compile(r"/(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})/"),                 # /20210105/
    re.compile(r"/(?P<y>\d{4})/(?P<m>\d{2})(?P<d>\d{2})/"),                # /2021/0105/
)


def _aware(moment: datetime) -> str:
    """ISO 8601 in China time; naive values are China time already."""
    moment = moment.replace(tzinfo=CHINA) if moment.tzinfo is None else moment.astimezone(CHINA)
    return moment.replace(microsecond=0).isoformat()


def _from_match(match: re.Match) -> str | None:
    groups = match.groupdict()
    parts = {k: int(v) for k, v in groups.items() if v and k not in ("tz", "half")}
    if groups.get("half") in AFTERNOON and parts["H"] < 12:
        parts["H"] += 12
    try:
        moment = datetime(parts["y"], parts["m"], parts["d"], parts.get("H", 0), parts.get("M", 0), parts.get("S", 0))
    except ValueError:
        return None
    tz = groups.get("tz")
    if tz:
        offset = timezone.utc if tz == "Z" else datetime.strptime(tz.replace(":", ""), "%z").tzinfo
        moment = moment.replace(tzinfo=offset)
    return _aware(moment)


def parse_date(raw: str | None) -> str | None:
    """'2016-04-18 08:32:30', '2021年1月5日 10:20', '2021-01-05T02:20:00Z' … -> ISO 8601 +08:00."""
    if not raw or not raw.strip():
        return None
    match = DATE.search(raw)
    if match:
        return _from_match(match)
    parsed = dateparser.parse(raw, languages=["zh", "en"],
                              settings={"TIMEZONE": "Asia/Shanghai", "RETURN_AS_TIMEZONE_AWARE": True,
                                        "PARSERS": ["custom-formats", "absolute-time"]})
    return _aware(parsed) if parsed else None


def url_date(url: str | None) -> tuple[str | None, str | None]:
    """The date a CMS path encodes, with the matched path piece as the raw value."""
    for pattern in URL_DATES:
        match = pattern.search(url or "")
        if match and (value := _from_match(match)):
            return value, match.group(0)
    return None, None


def _has_time(raw: str) -> bool:
    match = DATE.search(raw)
    return bool(match and match.group("H"))


def published_from(page_meta: dict, labelled: list[str], url: str | None, list_date: str | None) -> tuple[str | None, str | None]:
    """(published_at, published_raw) from the first source that reads as a date.

    A bare day (``<meta name=publishdate content=2024-05-13>``) takes its time
    from a later source naming the same day ('来源：人民日报2024-05-13 08:49').
    """
    candidates = [str(raw).strip() for raw in [page_meta.get(key) for key in META_KEYS] + list(labelled) if raw]
    found = ((value, raw) for raw in candidates if (value := parse_date(raw)))  # lazy: parse only what is needed
    first = next(found, None)
    if first:
        same_day = (pair for pair in found if pair[0][:10] == first[0][:10] and _has_time(pair[1]))
        return first if _has_time(first[1]) else next(same_day, first)
    value, raw = url_date(url)
    if value:
        return value, raw
    if list_date and (value := parse_date(str(list_date))):
        return value, str(list_date).strip()
    return None, None
