import ast
import re
import subprocess
import sys
from pathlib import Path

from pipelines.script import HAN, both_scripts, compact, fold, is_traditional, join_han_spaces, s2t, t2s

ROOT = Path(__file__).resolve().parent.parent
SEEDS = Path(__file__).parent / "fixtures" / "seeds"


def test_t2s_and_s2t_convert_between_scripts():
    assert t2s("質量監督") == "质量监督"
    assert s2t("质量监督") == "質量監督"
    assert t2s("") == ""


def test_fold_applies_nfkc_and_t2s():
    assert fold("（質檢）：ＡＢ１") == "(质检):AB1"


def test_compact_ignores_whitespace_width_and_script():
    assert compact("質量 監督，\u3000好") == compact("质量监督,好")


def test_both_scripts_matches_either_script():
    pattern = re.compile(both_scripts(r"^责任编辑[:：]\s*(\S+)$"))
    assert pattern.match("责任编辑：罗伯特").group(1) == "罗伯特"
    assert pattern.match("責任編輯:羅伯特").group(1) == "羅伯特"
    assert not pattern.match("责任人：罗伯特")


def test_both_scripts_extends_existing_classes():
    pattern = re.compile(both_scripts(r"[讯电]"))
    assert all(pattern.fullmatch(c) for c in "讯訊电電")


def test_join_han_spaces_only_between_han():
    assert join_han_spaces("黃 凰") == "黃凰"
    assert join_han_spaces("GB 2312 标准") == "GB 2312 标准"


def test_is_traditional():
    assert is_traditional("湖北省纖維檢驗局推動質量提升")
    assert not is_traditional("湖北省纤维检验局推动质量提升")


def test_han_table_is_each_character_converted_alone():
    """The one-call table (pipelines.script._han_table) equals converting every character on its own."""
    from pipelines.script import _converter, _han_table, han_characters

    chars = han_characters()
    assert len(chars) == 28096 and all(HAN.fullmatch(c) for c in chars[::97])
    for config in ("t2s", "s2t"):
        table = _han_table(config)
        converter = _converter(config)
        assert [table[c] for c in chars] == [converter.convert(c) for c in chars]


def test_is_traditional_counts_changed_characters():
    from pipelines.script import char_s2t, char_t2s

    def by_character(text):
        han = HAN.findall(text)
        return sum(char_t2s(c) != c for c in han) > sum(char_s2t(c) != c for c in han)

    samples = ["湖北省纖維檢驗局推動質量提升", "湖北省纤维检验局推动质量提升", "質量质量", "发發", "abc", "",
               "㐀㐁䶵﨎﨏鿕", "臺灣台湾後后"]
    samples += [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    for text in samples:
        assert is_traditional(text) == by_character(text), text[:20]


def test_han_class_matches_exactly_the_kept_characters():
    from pipelines.script import han_characters, han_class

    def keep(c):
        return ord(c) % 3 == 0 or "\u4e00" <= c <= "\u4e10"

    pattern = han_class(keep)
    assert [c for c in han_characters() if pattern.fullmatch(c)] == [c for c in han_characters() if keep(c)]
    assert not han_class(lambda c: False).search("质量a")


def test_cleaning_keeps_no_s2t_converter():
    """s2t is needed character by character only (the tables above): its phrase dictionaries (~27 MB) are
    dropped once the table is built, so no cleaning worker carries them through a crawl."""
    probe = """
import gc, opencc
from pipelines.chain import extract_html
from pipelines.script import both_scripts, is_traditional
assert both_scripts("来源") == "[来來]源" and is_traditional("湖北省纖維檢驗局推動質量提升")
body = "湖北省纖維檢驗局推動質量提升工作。" * 20
page = "<html><body><h1>質量監督</h1><p>" + body + "</p></body></html>"
record = extract_html(page, url="http://www.example.gov.cn/a.html")
assert record["body"]
print(sorted(o.config.rsplit("/", 1)[-1] for o in gc.get_objects() if isinstance(o, opencc.OpenCC)))
"""
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    kept = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert "t2s.json" in kept and "s2t.json" not in kept
