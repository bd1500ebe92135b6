import re

from pipelines.script import both_scripts, compact, fold, is_traditional, join_han_spaces, s2t, t2s


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
