import pytest

from pipelines.dates import parse_date, published_from, url_date


@pytest.mark.parametrize("raw, expected", [
    ("2016-04-18 08:32:30", "2016-04-18T08:32:30+08:00"),
    ("发布日期：2021年1月5日 10:20", "2021-01-05T10:20:00+08:00"),
    ("2021/1/5", "2021-01-05T00:00:00+08:00"),
    ("2021-01-05T02:20:00Z", "2021-01-05T10:20:00+08:00"),
    ("2021-01-05T10:20:00+08:00", "2021-01-05T10:20:00+08:00"),
    ("5 January 2021", "2021-01-05T00:00:00+08:00"),
    ("2024年5月22日週三 上午8:21", "2024-05-22T08:21:00+08:00"),
    ("2024年5月20日週一 下午2:05", "2024-05-20T14:05:00+08:00"),
    ("2024年01月25日 星期四 18:03:35 来自内蒙古自治区", "2024-01-25T18:03:35+08:00"),
])
def test_parse_date_reads_common_shapes_in_china_time(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["", "昨天", "2021-13-40", None])
def test_parse_date_refuses_what_is_not_an_absolute_date(raw):
    assert parse_date(raw) is None


@pytest.mark.parametrize("url, day", [
    ("http://zjj.example.gov.cn/xwzx/202101/t20210105_123.html", "2021-01-05"),
    ("http://www.example.gov.cn/art/2021/1/5/art_1_2.html", "2021-01-05"),
    ("http://news.example.cn/2021-01/05/c_1.htm", "2021-01-05"),
])
def test_url_date(url, day):
    value, raw = url_date(url)
    assert value.startswith(day) and raw in url


def test_published_prefers_meta_then_lines_then_url_then_list_date():
    url = "http://x/202101/t20210105_1.html"
    assert published_from({"pubdate": "2020-02-02 10:00"}, ["2019-01-01"], url, "2018-01-01")[0].startswith("2020-02-02")
    assert published_from({}, ["2019-01-01 09:00"], url, "2018-01-01") == ("2019-01-01T09:00:00+08:00", "2019-01-01 09:00")
    assert published_from({}, [], url, "2018-01-01")[0].startswith("2021-01-05")
    assert published_from({}, [], "http://x/a.html", "2018-01-01")[0].startswith("2018-01-01")
    assert published_from({}, [], None, None) == (None, None)


def test_a_bare_day_takes_its_time_from_a_later_source_of_the_same_day():
    assert published_from({"publishdate": "2024-05-13"}, ["2024-05-13 08:49"], None, None) == (
        "2024-05-13T08:49:00+08:00", "2024-05-13 08:49")
    assert published_from({"publishdate": "2024-05-13"}, ["2024-05-12 08:49"], None, None)[0] == \
        "2024-05-13T00:00:00+08:00"
