"""`qsnews extract` and `qsnews sources` as a user runs them."""
import gzip
import json
import unicodedata

import opencc
import pytest

from conftest import ROOT, SEEDS

T2S = opencc.OpenCC("t2s")


def norm(text):
    return T2S.convert(unicodedata.normalize("NFKC", text or ""))


def test_extract_seed_prints_one_json_record_with_its_title(qsnews):
    result = qsnews("extract", SEEDS / "002_0b426437ca5b49b1.txt", "--json", check=True)
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert norm(record["title"]) == norm("质量兴县:做实就会有收获")
    assert {"body", "published_at", "source_name", "paragraphs", "region_code"} <= record.keys()
    kinds = {p["kind"] for p in record["paragraphs"]}
    assert "body" in kinds and len(kinds) > 1
    assert all(p["reason"] for p in record["paragraphs"] if p["kind"] != "body")


def test_extract_keeps_input_order_and_survives_bad_inputs(qsnews, tmp_path):
    missing = tmp_path / "missing.html"
    page = tmp_path / "page.html.gz"
    page.write_bytes(gzip.compress(
        "<html><head><title>抽查通报</title></head><body><h1>某市开展校服质量抽查</h1>"
        "<div class='TRS_Editor'><p>近日，某市市场监督管理局对全市中小学校服开展专项抽查，共抽取样品30批次。</p>"
        "<p>抽查结果显示，合格率达到96.7%，不合格产品已依法处置。</p></div></body></html>".encode("gb18030")
    ))
    result = qsnews("extract", missing, page, SEEDS / "003_17dd87cc37a0deb2.txt", "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["input"] for r in records] == [str(missing), str(page), str(SEEDS / "003_17dd87cc37a0deb2.txt")]
    assert "error" in records[0] and "No such file" in records[0]["error"]
    assert records[1]["encoding"] == "gb18030"
    assert "校服开展专项抽查" in records[1]["body"]
    assert records[2]["title_derived"] is True
    assert result.returncode == 0


def test_extract_human_output_lists_paragraph_kinds(qsnews):
    result = qsnews("extract", SEEDS / "001_9d81ed627422e004.txt", check=True)
    assert "[" in result.stdout and "duplicate" in result.stdout


def test_sources_check_validates_the_registry_offline(qsnews, tmp_path):
    good = qsnews("sources", "--check")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[source]]\nname = "甲"\nkind = "bureau"\nlevel = "county"\nregion_code = "999999"\n'
        'cms = "nosuchcms"\nstart_urls = ["http://example.gov.cn/"]\n', encoding="utf-8")
    result = qsnews("sources", "--check", "--registry", bad)
    assert result.returncode == 1
    assert "unknown cms" in result.stdout and "region_code" in result.stdout


def test_the_program_exits_with_its_command_status_and_skips_the_last_collections(monkeypatch):
    """``qsnews`` (``run``) freezes the collector once the command is done: the interpreter's exit then skips
    its last collections (0.2–0.5 s after every crawl); ``main``, for callers that go on, leaves it alone."""
    import gc

    from crawler import cli

    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(cli, "main", lambda: 3)
    with pytest.raises(SystemExit) as exit_:
        cli.run()
    assert exit_.value.code == 3 and frozen == [True]

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "main", broken)
    with pytest.raises(RuntimeError):
        cli.run()
    assert frozen == [True, True]


def test_the_installed_qsnews_command_is_the_program_entry():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["qsnews"] == "crawler.cli:run"
