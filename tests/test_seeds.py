"""Every seed article through the whole text chain, checked against expected.json.

Both sides are compared in folded form (NFKC + OpenCC t2s), as expected.json's
``_about`` says; 'stretch' checks are held to the same standard.
"""
import hashlib
import json
import re
from pathlib import Path

import pytest

from pipelines.chain import extract_text
from pipelines.script import fold

SEEDS = Path(__file__).resolve().parent / "fixtures" / "seeds"
EXPECTED = json.loads((SEEDS / "expected.json").read_text(encoding="utf-8"))
SEED_NAMES = sorted(name for name in EXPECTED if not name.startswith("_"))


@pytest.fixture(scope="module")
def records():
    return {name: extract_text((SEEDS / name).read_text(encoding="utf-8")) for name in SEED_NAMES}


def _checks(expected: dict):
    """(check name, value) pairs, stretch checks included."""
    for key, value in expected.items():
        if key == "stretch":
            yield from _checks(value)
        elif not key.startswith("_"):
            yield key, value


def _failures(record: dict, expected: dict) -> list[str]:
    body = fold(record["body"])
    author = re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", fold(record["author"] or ""))
    regions = [fold(record[k] or "") for k in ("province", "prefecture", "county")]
    published = (record["published_at"] or "").replace("T", " ")[:19]
    problems = []
    for check, value in _checks(expected):
        if check in ("title", "subtitle", "editor") and fold(record[check] or "") != fold(value):
            problems.append(f"{check}: {record[check]!r} != {value!r}")
        elif check == "source" and fold(record["source_name"] or "") != fold(value):
            problems.append(f"source: {record['source_name']!r} != {value!r}")
        elif check == "published" and published != value:
            problems.append(f"published: {record['published_at']!r} != {value!r}")
        elif check == "title_note" and not (record["title"] and record["title_derived"]):
            problems.append(f"title_note: title {record['title']!r}, derived {record['title_derived']}")
        elif check == "author_includes":
            problems += [f"author lacks {n!r}: {record['author']!r}" for n in value if fold(n) not in author]
        elif check == "region_includes":
            problems += [f"region lacks {r!r}: {regions}" for r in value if fold(r) not in regions]
        elif check == "body_contains":
            problems += [f"body lacks {s!r}" for s in value if fold(s) not in body]
        elif check == "body_excludes":
            problems += [f"body has {s!r}" for s in value if fold(s) in body]
        elif check == "each_once":
            problems += [f"{s!r} occurs {body.count(fold(s))} times" for s in value if body.count(fold(s)) != 1]
    return problems


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_matches_expected(records, name):
    assert _failures(records[name], EXPECTED[name]) == []


@pytest.mark.parametrize("name", SEED_NAMES)
def test_record_is_consistent(records, name):
    """What to_record promises regardless of content: counts, hash and positions agree."""
    record = records[name]
    body_rows = [p for p in record["paragraphs"] if p["kind"] == "body"]
    assert record["paragraph_count"] == len(body_rows)
    assert record["body"] == "\n".join(p["text"] for p in body_rows)
    assert record["content_hash"] == hashlib.sha256(record["body_simplified"].encode()).hexdigest()
    assert [p["position"] for p in record["paragraphs"]] == list(range(len(record["paragraphs"])))
    assert all(p["reason"] for p in record["paragraphs"] if p["kind"] != "body")
