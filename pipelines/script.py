"""Script helpers shared by the cleaning steps: OpenCC conversion and comparison folding.

Regional sites publish in simplified or traditional characters, mirrors convert
between the two, and full-width punctuation comes and goes.  Steps that need to
*compare* text (dedupe, label matching, tests) fold both sides with NFKC and
OpenCC ``t2s``; the stored body keeps the source's own script.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
WHITESPACE = re.compile(r"\s+")


@lru_cache(maxsize=None)
def _converter(config: str) -> opencc.OpenCC:
    """OpenCC converters are slow to build; one per config for the process."""
    return opencc.OpenCC(config)


def t2s(text: str) -> str:
    """Traditional to simplified (OpenCC t2s)."""
    return _converter("t2s").convert(text) if text else text


def s2t(text: str) -> str:
    """Simplified to traditional (OpenCC s2t)."""
    return _converter("s2t").convert(text) if text else text


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width letters, digits and punctuation become ASCII."""
    return unicodedata.normalize("NFKC", text) if text else text


def fold(text: str) -> str:
    """The comparison form: NFKC then simplified.  Never stored, only compared."""
    return t2s(nfkc(text))


def compact(text: str) -> str:
    """``fold`` without any whitespace: the key for "same paragraph" and "same name"."""
    return WHITESPACE.sub("", fold(text))


def is_han(char: str) -> bool:
    return bool(HAN.fullmatch(char))


def join_han_spaces(text: str) -> str:
    """Drop spaces between two Han characters ('黃 凰' -> '黃凰'): bylines space out names."""
    return re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", text)


@lru_cache(maxsize=4096)
def _char_variants(char: str) -> str:
    """The simplified and traditional forms of one character, itself first."""
    forms = dict.fromkeys([char, s2t(char), t2s(char)])
    return "".join(f for f in forms if len(f) == 1)


def both_scripts(pattern: str) -> str:
    """Rewrite a regex written in simplified characters to match either script.

    Each Han character becomes a class of its simplified and traditional form
    ('来源' -> '[来來]源'), inside an existing class the forms are appended.
    Labels such as 责任编辑 / 責任編輯 then need one pattern, not two.
    """
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
            out.append(char)
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        forms = _char_variants(char) if is_han(char) else char
        out.append(forms if in_class or len(forms) == 1 else f"[{forms}]")
    return "".join(out)


@lru_cache(maxsize=65536)
def char_t2s(char: str) -> str:
    """``t2s`` of one character, cached: the per-character checks call it a lot."""
    return t2s(char)


@lru_cache(maxsize=65536)
def char_s2t(char: str) -> str:
    return s2t(char)


def is_traditional(text: str) -> bool:
    """Whether a text is written in traditional characters (more t2s than s2t changes)."""
    han = HAN.findall(text)
    traditional = sum(1 for c in han if char_t2s(c) != c)
    simplified = sum(1 for c in han if char_s2t(c) != c)
    return traditional > simplified
