"""Where an article is about: a gazetteer of China's administrative divisions.

The gazetteer is ``data/divisions.json.gz`` (code -> name for every province,
prefecture and county), generated from a published dataset — see
``data/README.md``; nothing here is a hand-typed list of places.  On top of it
sits ``RENAMES``, the former names that old quality-supervision news still
uses (蓟县, 襄樊市 …), each mapped to today's division.

Conventions (part of the archive's public contract):

* ``NATIONAL`` (``"000000"``) is the region code of national sources (SAMR,
  中国质量报 …).  GB/T 2260 has no code for the whole country; ``valid_code``
  accepts this one, ``lookup`` returns None for it.
* Municipalities (北京, 天津, 上海, 重庆) repeat their name as prefecture:
  蓟州区 is ``Region("120119", "天津市", "天津市", "蓟州区")``, so every
  county row has a prefecture to facet on.
* Counties governed by the province directly (仙桃市, 济源市 …) have
  prefecture None.
"""
from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipelines.document import Document
from pipelines.script import fold, t2s

DATA = Path(__file__).parent / "data" / "divisions.json.gz"
NATIONAL = "000000"
MUNICIPALITIES = ("11", "12", "31", "50")
# Code slots the NBS data fills with a placeholder rather than a place name.
PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})

# Former name -> (current code, year of the change).  Only names that no
# longer exist in the gazetteer; a name is matched in full, never shortened.
RENAMES = {
    "蓟县": ("120119", 2016),  # 天津: 蓟县 became 蓟州区
    "宁河县": ("120117", 2015),
    "静海县": ("120118", 2015),
    "宝坻县": ("120115", 2001),
    "武清县": ("120114", 2000),
    "塘沽区": ("120116", 2009),  # 塘沽、汉沽、大港 merged into 滨海新区
    "汉沽区": ("120116", 2009),
    "大港区": ("120116", 2009),
    "襄樊市": ("420600", 2010),  # 湖北: 襄樊市 renamed 襄阳市
    "襄阳区": ("420607", 2010),  # 襄阳区 renamed 襄州区
    "襄阳县": ("420607", 2001),  # 襄阳县 became 襄阳区 (now 襄州区)
    "达县": ("511703", 2013),  # 四川: became 达川区
    "下城区": ("330105", 2021),  # 杭州: merged into 拱墅区
    "江干区": ("330102", 2021),  # 杭州: merged into 上城区
    "梅列区": ("350404", 2021),  # 三明: merged into 三元区
    "沙县": ("350405", 2021),
    "长泰县": ("350605", 2021),
    "龙海市": ("350604", 2021),
    "吉利区": ("410308", 2021),  # 洛阳: merged into 孟津区
    "孟津县": ("410308", 2021),
    "偃师市": ("410307", 2021),
    "祁阳县": ("431181", 2021),
    "横县": ("450181", 2021),
    "会理县": ("513402", 2021),
    "黔西县": ("520581", 2021),
    "禄丰县": ("532302", 2021),
    "凤翔县": ("610305", 2021),
    "旬阳县": ("610981", 2021),
    "沙湾县": ("654203", 2021),
    "米林县": ("540481", 2022),
    "错那县": ("540581", 2022),
}

# Suffixes removed to form the short name (崇阳县 -> 崇阳); longest first.
SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "林区", "特区",
            "省", "市", "县", "区", "盟", "旗")
# The 55 minority nationalities (GB 3304), removed from autonomous names:
# 恩施土家族苗族自治州 -> 恩施.
ETHNIC = ("蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 "
          "东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 "
          "俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺").split()
# A short name, or a two-character full name (和县, 代县), counts only when
# followed by one of these: 2-character words hide inside ordinary text.
CONTEXT = ("市场监督管理局", "市场监管局", "质量技术监督局", "质监局", "工商局", "人民政府", "政府",
           "县委", "市委", "区委", "州委", "县", "市", "区", "州", "旗", "盟")
# 东方市场 is a market, not 东方市; 港口区域 is an area, not 港口区.
FALSE_ENDINGS = ("市场", "区域")
# Full names ending in a common noun are guarded too: 造福山区 is not 福山区.
GENERIC_TAILS = ("山区", "城区", "市区", "郊区", "林区", "矿区", "新区", "社区", "园区", "景区", "库区",
                 "湖区", "港区", "厂区", "校区", "街区", "牧区", "垦区", "老区", "片区", "辖区", "小区")

TITLE_WEIGHT, LEAD_WEIGHT, LEAD_PARAGRAPHS = 3.0, 2.0, 2
DOMINANCE = 0.6  # share of its level a finer region needs to be chosen
SUPPORT = 0.3  # share of the mentions inside the parent it needs


@dataclass(frozen=True)
class Region:
    code: str
    province: str | None
    prefecture: str | None = None
    county: str | None = None

    @property
    def level(self) -> str:
        if self.code.endswith("0000"):
            return "province"
        return "prefecture" if self.code.endswith("00") else "county"

    def within(self, other: "Region") -> bool:
        """True when this region is ``other`` or lies inside it."""
        return self.code.startswith(_prefix(other.code))


def _prefix(code: str) -> str:
    """The digits a code shares with everything inside it (420000 -> 42)."""
    return code[:2] if code.endswith("0000") else code[:4] if code.endswith("00") else code


@lru_cache(maxsize=1)
def _divisions() -> dict[str, str]:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=None)
def lookup(code: str) -> Region | None:
    """The division a 6-digit code names, or None when the code is unknown."""
    names = _divisions()
    code = str(code)
    if code not in names:
        return None
    province = names[code[:2] + "0000"]
    if code.endswith("0000"):
        return Region(code, province)
    pref_name = names.get(code[:4] + "00")
    prefecture = province if code[:2] in MUNICIPALITIES else (None if pref_name in PLACEHOLDERS else pref_name)
    if code.endswith("00"):
        return Region(code, province, prefecture)
    return Region(code, province, prefecture, names[code])


def valid_code(code: str) -> bool:
    """True for a division in the gazetteer and for the ``NATIONAL`` code."""
    return str(code) == NATIONAL or lookup(str(code)) is not None


def _strip_ethnic(stem: str) -> str:
    """恩施土家族苗族 -> 恩施; a name that is only a nationality keeps it (鄂伦春)."""
    changed = True
    while changed:
        changed = False
        for e in sorted(ETHNIC, key=len, reverse=True):
            for tail in (e + "族", e if len(e) > 1 else None):
                if tail and stem.endswith(tail) and len(stem) - len(tail) >= 2:
                    stem, changed = stem[: -len(tail)], True
                    break
            if changed:
                break
    return stem.removesuffix("族") if any(stem == e + "族" for e in ETHNIC) else stem


def short_name(name: str) -> str | None:
    """The name without its administrative suffix, or None when too short."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if suffix.startswith("自治"):
                stem = _strip_ethnic(stem)
            return stem if len(stem) >= 2 else None
    return None


@dataclass(frozen=True)
class _Entry:
    region: Region
    guarded: bool  # needs CONTEXT after it, or a parent named right before it
    short: bool


def _entries() -> list[tuple[str, _Entry]]:
    """Every (name, entry) the text scanner knows: full names, short names, renames."""
    out = []
    for code, name in _divisions().items():
        if name in PLACEHOLDERS:
            continue
        region = lookup(code)
        guarded = len(name) <= 2 or (region.level == "county" and name.endswith(GENERIC_TAILS))
        out.append((name, _Entry(region, guarded=guarded, short=False)))
        stem = short_name(name)
        if stem:
            bare_ok = region.level == "province" or (region.level == "prefecture" and len(stem) >= 3)
            out.append((stem, _Entry(region, guarded=not bare_ok, short=True)))
    for name, (code, _year) in RENAMES.items():
        out.append((name, _Entry(lookup(code), guarded=len(name) <= 2, short=False)))
    return out


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, tuple[_Entry, ...]], dict[str, tuple[int, ...]]]:
    """Names -> entries, and first two characters -> name lengths (longest first).

    Every name has at least two characters (short names shorter than that are not made).
    """
    index: dict[str, list[_Entry]] = {}
    for name, entry in _entries():
        index.setdefault(name, []).append(entry)
    lengths: dict[str, set[int]] = {}
    for name in index:
        lengths.setdefault(name[:2], set()).add(len(name))
    return ({k: tuple(v) for k, v in index.items()},
            {k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()})


@lru_cache(maxsize=1)
def _starts() -> re.Pattern:
    """Where a name may start: a character some name starts with, followed by one some name has second.

    A loose test (the pair itself is checked against ``_index``), but it lets the scanner jump over
    the ~90% of a text that cannot start a name without a Python step per character.
    """
    names = _index()[0]
    firsts = "".join(sorted({re.escape(name[0]) for name in names}))
    seconds = "".join(sorted({re.escape(name[1]) for name in names}))
    return re.compile(f"[{firsts}](?=[{seconds}])")


# Pinyin glosses some pages put after characters: 质(zhì)监局.
_PINYIN = re.compile(r"\([a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňḿ]{1,7}\)")


def normalize(text: str) -> str:
    """The text as names are matched: NFKC, pinyin glosses dropped, simplified script.

    Without a parenthesis (no gloss to drop) that is ``script.fold``, which the earlier cleaning steps
    have mostly computed for the same paragraphs already (it is cached)."""
    folded = unicodedata.normalize("NFKC", text)
    if "(" not in folded:
        return fold(text)
    return t2s(_PINYIN.sub("", folded))


_HAN = re.compile(r"[\u4e00-\u9fff]")


_CONTEXT = re.compile("|".join(map(re.escape, CONTEXT)))


def _has_context(text: str, start: int, end: int) -> bool:
    """An office or admin word follows (通城质监局, 通城县委, 恩施州).

    A lone suffix that makes a known full name (福山+区) does not count: the
    full name was already judged, and rejected.
    """
    found = _CONTEXT.match(text, end)  # the first word of CONTEXT that follows, as the alternation tries them
    word = found.group() if found else None
    if word is None or (text[end:end + 2] in FALSE_ENDINGS and len(word) <= 2):
        return False
    return len(word) > 1 or text[start:end + 1] not in _index()[0]


def _admissible(entry: _Entry, text: str, start: int, end: int, before: tuple[Region, ...]) -> bool:
    """Whether this occurrence of a name really names the entry's region."""
    if not entry.short and text[end - 1:end + 1] in FALSE_ENDINGS:
        return False
    if not entry.guarded or any(entry.region.within(p) and entry.region != p for p in before):
        return True  # unguarded, or right after its parent: 湖北崇阳, 咸宁市通城
    if text[end:end + 1] == ":":  # a dateline ('大悟:…') starts a text, not a word
        return start == 0 or not _HAN.match(text[start - 1])
    return _has_context(text, start, end)


def _scan(text: str) -> list[tuple[Region, ...]]:
    """Candidate regions of each place-name mention, leftmost-longest, in order."""
    index, lengths = _index()
    mentions, before, last_end = [], (), -1
    for found in _starts().finditer(text):
        i = found.start()
        if i < last_end:
            continue  # inside the name just read
        for n in lengths.get(text[i:i + 2], ()):
            entries = index.get(text[i:i + n], ())
            context = before if last_end == i else ()
            ok = [e for e in entries if _admissible(e, text, i, i + n, context)]
            if ok:
                full = [e for e in ok if not e.short] or ok
                before = (full[0].region,) if len(full) == 1 else tuple(dict.fromkeys(e.region for e in full))
                mentions.append(before)
                last_end = i + n
                break
    return mentions


def _resolve(candidates: tuple[Region, ...], known: set[str]) -> Region | None:
    """One region for a mention, or None while it stays ambiguous.

    The only candidate; else the one whose parent the text names (朝阳区 with
    北京市); else the one containing all others (恩施 is the 自治州 before it
    is its seat 恩施市).
    """
    if len(candidates) == 1:
        return candidates[0]
    named = [r for r in candidates if any(k != r.code and r.code.startswith(_prefix(k)) for k in known)]
    if len(named) == 1:
        return named[0]
    outer = [r for r in candidates if all(c.within(r) for c in candidates)]
    return outer[0] if outer else None


def _known(mentions: list[tuple[Region, ...]]) -> set[str]:
    return {m[0].code for m in mentions if len(m) == 1}


def find_regions(text: str) -> list[Region]:
    """Every place named in ``text`` (traditional or simplified), in order.

    Ambiguous names (朝阳区 is in 北京 and 长春) count only when the text also
    names one of their parents; unresolved ones are left out.
    """
    mentions = _scan(normalize(text))
    known = _known(mentions)
    return [r for r in (_resolve(m, known) for m in mentions) if r]


def _weighted_texts(doc: Document) -> list[tuple[str, float]]:
    """The title (from whichever stage found it) and the kept paragraphs, with weights."""
    titles = {doc.meta.get("title"), doc.page_meta.get("h1"), doc.page_meta.get("title"), doc.hints.get("list_title")}
    texts = [(t, TITLE_WEIGHT) for t in titles if t]
    kept = [p.text for p in doc.paragraphs if p.kind in ("body", "heading")]
    texts += [(t, LEAD_WEIGHT if i < LEAD_PARAGRAPHS else 1.0) for i, t in enumerate(kept)]
    return texts


def _choose(scores: Counter, parent_total: float) -> str | None:
    """The code that dominates its level, if any."""
    if not scores:
        return None
    code, score = scores.most_common(1)[0]
    level_total = sum(scores.values())
    return code if score >= DOMINANCE * level_total and score >= SUPPORT * parent_total else None


def infer_region(weighted: list[tuple[Region, float]], anchor: Region | None = None) -> Region | None:
    """The most specific region the mentions agree on, refining ``anchor`` if given.

    Goes down one level at a time (province, prefecture, county) and stops
    where the mentions of the next level disagree, so that an article naming
    孝感, 荆州 and 武汉 stays at 湖北省.
    """
    chosen = anchor
    for digits in (2, 4, 6):
        if chosen is not None and len(_prefix(chosen.code)) >= digits:
            continue
        inside = [(r, w) for r, w in weighted if chosen is None or r.within(chosen)]
        scores = Counter()
        for region, weight in inside:
            if len(_prefix(region.code)) >= digits:
                scores[region.code[:digits]] += weight
        code = _choose(scores, sum(w for _, w in inside))
        finer = code and lookup(code.ljust(6, "0"))
        if not finer:
            break
        chosen = finer
    return chosen


def _source_region(source: dict) -> Region | None:
    if source.get("level") in ("province", "prefecture", "county"):
        return lookup(str(source.get("region_code", "")))
    return None


def assign_region(doc: Document) -> Document:
    """Set meta province, prefecture, county and region_code.

    A regional source fixes the region; the text may only narrow it (a
    provincial bureau's story about one county).  National sources, portals,
    mirrors and unknown sources get the region the text agrees on, with the
    title and lead paragraphs weighted over the rest.
    """
    texts = [(normalize(t), w) for t, w in _weighted_texts(doc)]
    scanned = [(_scan(t), w) for t, w in texts]
    known = set().union(*(_known(m) for m, _ in scanned)) if scanned else set()
    weighted = [(r, w) for mentions, w in scanned for r in (_resolve(m, known) for m in mentions) if r]
    region = infer_region(weighted, _source_region(doc.source))
    return doc.with_meta(
        province=region.province if region else None,
        prefecture=region.prefecture if region else None,
        county=region.county if region else None,
        region_code=region.code if region else None,
    )
