"""Region resolution against the vendored gazetteer and the five seed texts."""
from pathlib import Path

import pytest

from pipelines.document import Document, Paragraph
from pipelines.regions import (NATIONAL, RENAMES, Region, assign_region, find_regions, lookup,
                               short_name, valid_code)

ROOT = Path(__file__).resolve().parent.parent
SEED_DIRS = (ROOT / "tests" / "fixtures" / "seeds", Path("/work/shared/seeds"))


def names(text: str) -> list[str]:
    return [r.county or r.prefecture or r.province for r in find_regions(text)]


def seed_document(name: str, source: dict | None = None) -> Document:
    """A seed read as paragraphs by a plain line split, independent of the cleaning helpers."""
    path = next((d / name for d in SEED_DIRS if (d / name).exists()), None)
    assert path is not None, f"seed {name} not found in {SEED_DIRS}"
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return Document(paragraphs=tuple(Paragraph(line) for line in lines), source=source or {})


def test_lookup_full_hierarchy():
    assert lookup("421223") == Region("421223", "湖北省", "咸宁市", "崇阳县")
    assert lookup("420600") == Region("420600", "湖北省", "襄阳市")
    assert lookup("420000") == Region("420000", "湖北省")
    assert lookup("421223").level == "county" and lookup("420000").level == "province"


def test_municipality_repeats_its_name_as_prefecture():
    assert lookup("120119") == Region("120119", "天津市", "天津市", "蓟州区")
    assert lookup("500229").prefecture == "重庆市"


def test_province_governed_county_has_no_prefecture():
    assert lookup("429004") == Region("429004", "湖北省", None, "仙桃市")


def test_gazetteer_is_complete():
    assert all(valid_code(f"{p}0000") for p in PROVINCE_PREFIXES)
    assert not valid_code("710000")  # outside the mainland registry: no code in the data
    assert valid_code("659012")  # 白杨市 (2023): the data is current, not a 2020 snapshot


def test_valid_code_rejects_non_divisions():
    assert valid_code(NATIONAL)
    assert lookup(NATIONAL) is None
    for bad in ("", "42122", "4212230", "abcdef", "421299", "999999", "120225"):
        assert not valid_code(bad), bad
    assert not valid_code("420671")  # NBS statistical development zone, not a division


def test_short_names():
    assert short_name("崇阳县") == "崇阳"
    assert short_name("恩施土家族苗族自治州") == "恩施"
    assert short_name("巴音郭楞蒙古自治州") == "巴音郭楞"
    assert short_name("内蒙古自治区") == "内蒙古"
    assert short_name("和县") is None


def test_renames_point_at_current_divisions():
    assert all(valid_code(code) and 1949 < year < 2030 for code, year in RENAMES.values())
    assert not any(name in {r.county for r in map(lookup, (c for c, _ in RENAMES.values()))}
                   for name in RENAMES)


@pytest.mark.parametrize("text, expected", [
    ("蓟县质监局", ["蓟州区"]),
    ("襄樊市质监局", ["襄阳市"]),
    ("湖北省襄阳县", ["湖北省", "襄州区"]),
    ("湖北省襄阳市襄州区质量技术监督局", ["湖北省", "襄阳市", "襄州区"]),
])
def test_historical_names(text, expected):
    assert names(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("崇阳县质监局", ["崇阳县"]),
    ("崇阳质监局", ["崇阳县"]),
    ("通城县市场监督管理局", ["通城县"]),
    ("咸宁市通城", ["咸宁市", "通城县"]),
    ("湖北崇阳", ["湖北省", "崇阳县"]),
    ("襄阳市", ["襄阳市"]),
    ("湖北", ["湖北省"]),
    ("石家庄", ["石家庄市"]),
    ("恩施州市场监管局", ["恩施土家族苗族自治州"]),
    ("北京市朝阳区", ["北京市", "朝阳区"]),
])
def test_full_and_short_forms(text, expected):
    assert names(text) == expected


@pytest.mark.parametrize("text", [
    "中国电信股份有限公司通城分公司",  # bare 2-character short name
    "崇阳雷竹笋",
    "造福山区人民",  # 福山区
    "东方市场",  # 东方市
    "港口区域",  # 港口区
    "发展现代县域经济",  # 代县
    "省市和县两级",  # 和县
    "朝阳区开展检查",  # 朝阳区 of 北京 or 长春: no parent named
    "深入各区县和市区",
])
def test_false_positives(text):
    assert find_regions(text) == []


def test_traditional_script():
    assert names("湖北省崇陽縣質監局") == ["湖北省", "崇阳县"]
    assert names("薊縣縣委書記") == ["蓟州区"]
    assert names("質(zhì)監(jiān)局在薊縣質(zhì)監(jiān)局") == ["蓟州区"]  # pinyin glosses


EXPECTED = {
    "000_466d3e6909180f18.txt": ("湖北省", None, None, "420000"),
    "001_9d81ed627422e004.txt": ("天津市", None, None, "120000"),
    "002_0b426437ca5b49b1.txt": ("湖北省", "咸宁市", "崇阳县", "421223"),
    "003_17dd87cc37a0deb2.txt": ("湖北省", "襄阳市", "襄州区", "420607"),
    "004_578acc48cf8ddb01.txt": ("湖北省", "咸宁市", "通城县", "421222"),
}


@pytest.mark.parametrize("seed", sorted(EXPECTED))
def test_assign_region_on_seed_texts(seed):
    meta = assign_region(seed_document(seed)).meta
    assert (meta["province"], meta["prefecture"], meta["county"], meta["region_code"]) == EXPECTED[seed]


def test_regional_source_fixes_the_region_and_text_only_narrows_it():
    hubei = {"name": "湖北省市场监管局", "level": "province", "region_code": "420000"}
    assert assign_region(seed_document("002_0b426437ca5b49b1.txt", hubei)).meta["region_code"] == "421223"
    tianjin = {"name": "天津市市场监管委", "level": "province", "region_code": "120000"}
    assert assign_region(seed_document("002_0b426437ca5b49b1.txt", tianjin)).meta["region_code"] == "120000"


def test_national_source_is_inferred_from_text():
    samr = {"name": "市场监管总局", "level": "national", "region_code": NATIONAL}
    assert assign_region(seed_document("004_578acc48cf8ddb01.txt", samr)).meta["county"] == "通城县"


def test_text_without_places_leaves_region_empty():
    meta = assign_region(Document(paragraphs=(Paragraph("质量提升行动取得实效"),))).meta
    assert meta == {"province": None, "prefecture": None, "county": None, "region_code": None}


def test_conflicting_prefectures_stop_at_the_province():
    text = "武汉市、襄阳市、宜昌市质监局联合开展检查"
    meta = assign_region(Document(paragraphs=(Paragraph(text),))).meta
    assert (meta["province"], meta["prefecture"], meta["region_code"]) == ("湖北省", None, "420000")


def test_many_provinces_stay_national():
    text = "北京市、上海市、广东省、湖北省、四川省市场监管部门联合开展抽查"
    assert assign_region(Document(paragraphs=(Paragraph(text),))).meta["province"] is None


PROVINCE_PREFIXES = ("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
                     "61 62 63 64 65").split()


def _scan_every_position(text: str):
    """The scanner without its skipping: every position tried, every length of a name starting there."""
    from pipelines.regions import _admissible, _index

    index = _index()[0]
    lengths = sorted({len(name) for name in index}, reverse=True)
    mentions, i, before, last_end = [], 0, (), -1
    while i < len(text):
        for n in lengths:
            entries = index.get(text[i:i + n], ())
            context = before if last_end == i else ()
            ok = [e for e in entries if _admissible(e, text, i, i + n, context)]
            if ok:
                full = [e for e in ok if not e.short] or ok
                before = tuple(dict.fromkeys(e.region for e in full))
                mentions.append(before)
                i = last_end = i + n
                break
        else:
            i += 1
    return mentions


def test_scan_finds_what_trying_every_position_finds():
    from pipelines.regions import _scan, normalize

    texts = [line for d in SEED_DIRS if d.exists() for p in sorted(d.glob("*.txt"))
             for line in p.read_text(encoding="utf-8").splitlines()]
    texts += ["湖北崇阳", "咸宁市通城县委", "大悟:今年", "造福山区", "东方市场", "朝阳区和北京市", "襄樊市襄阳区", "和县县委",
              "恩施土家族苗族自治州恩施市", "内蒙古自治区呼和浩特市", ""]
    found = 0
    for text in texts:
        text = normalize(text)
        expected = _scan_every_position(text)
        assert _scan(text) == expected, text[:30]
        found += len(expected)
    assert found > 50
