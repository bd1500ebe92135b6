"""The real source registry loads, is valid offline, and covers the country."""
import pytest

from crawler import registry
from pipelines.regions import NATIONAL, lookup

PROVINCES = {code[:2] for code in (
    "110000 120000 130000 140000 150000 210000 220000 230000 310000 320000 330000 340000 350000 "
    "360000 370000 410000 420000 430000 440000 450000 460000 500000 510000 520000 530000 540000 "
    "610000 620000 630000 640000 650000").split()}


@pytest.fixture(scope="module")
def sources():
    return registry.load()


def test_real_registry_is_valid(sources):
    assert len(sources) >= 40
    assert registry.problems(sources) == []


def test_every_province_has_a_bureau(sources):
    bureaus = {s.region_code[:2] for s in sources if s.kind == "bureau" and s.level == "province"}
    assert bureaus == PROVINCES


def test_levels_match_region_codes(sources):
    for s in sources:
        if s.level == "national":
            assert s.region_code == NATIONAL, s.name
        else:
            assert lookup(s.region_code).level == s.level, s.name


def test_every_source_says_how_its_layout_is_known(sources):
    for s in sources:
        assert s.notes, s.name
        assert all(urlhost in s.allowed_domains for urlhost in _hosts(s.start_urls)), s.name


def test_hanweb_extra_keys_reach_source_extra(sources):
    jiangsu = next(s for s in sources if s.name == "江苏省市场监管局-工作动态")
    assert jiangsu.cms == "hanweb" and jiangsu.extra["columnids"] == ["70154", "70155"]


def _hosts(urls):
    from urllib.parse import urlsplit
    return {urlsplit(u).hostname for u in urls}


GOOD = """
[[source]]
name = "{name}"
kind = "bureau"
level = "county"
region_code = "{code}"
cms = "{cms}"
start_urls = ["http://www.chongyang.gov.cn/"]
layout = "assumed"
"""


def write(tmp_path, *entries):
    path = tmp_path / "sources.toml"
    path.write_text("".join(GOOD.format(**e) for e in entries), encoding="utf-8")
    return registry.load(path)


def entry(name="崇阳", code="421223", cms="trs"):
    return {"name": name, "code": code, "cms": cms}


def test_small_registry_passes(tmp_path):
    assert registry.problems(write(tmp_path, entry())) == []


def test_duplicate_name_is_caught(tmp_path):
    found = registry.problems(write(tmp_path, entry(), entry(code="421222")))
    assert found == ["崇阳: duplicate name"]


def test_unknown_cms_is_caught(tmp_path):
    found = registry.problems(write(tmp_path, entry(cms="wordpress")))
    assert found == ["崇阳: unknown cms 'wordpress'"]


@pytest.mark.parametrize("code", ["421299", "42122", "100000", "120225"])
def test_bad_region_code_is_caught(tmp_path, code):
    found = registry.problems(write(tmp_path, entry(code=code)))
    assert found == [f"崇阳: region_code {code!r} is not an administrative division"]
