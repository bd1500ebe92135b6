"""Script helpers shared by the cleaning steps: OpenCC conversion and comparison folding.

Regional sites publish in simplified or traditional characters, mirrors convert
between the two, and full-width punctuation comes and goes.  Steps that need to
*compare* text (dedupe, label matching, tests) fold both sides with NFKC and
OpenCC ``t2s``; the stored body keeps the source's own script.
"""
from __future__ import annotations

import ctypes
import re
import unicodedata
from functools import lru_cache

import opencc

HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))  # CJK Ext. A, Unified, Compatibility
HAN = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in HAN_RANGES) + "]")
_HAN_RUN = re.compile(HAN.pattern + "+")
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


@lru_cache(maxsize=1024)  # pure, and the steps fold the same paragraphs over and over (a page has dozens)
def fold(text: str) -> str:
    """The comparison form: NFKC then simplified.  Never stored, only compared."""
    return t2s(nfkc(text))


def compact(text: str) -> str:
    """``fold`` without any whitespace: the key for "same paragraph" and "same name"."""
    folded = fold(text)
    # Every whitespace character but the space is unprintable: a printable text without spaces has none to drop.
    if " " not in folded and folded.isprintable():
        return folded
    return WHITESPACE.sub("", folded)


def count_han(text: str) -> int:
    """How many characters of ``text`` ``HAN`` matches, counted by runs (``len(HAN.findall(text))`` makes
    one string per character: ten times slower on a page of Chinese)."""
    return sum(map(len, _HAN_RUN.findall(text)))


def is_han(char: str) -> bool:
    return bool(HAN.fullmatch(char))


def join_han_spaces(text: str) -> str:
    """Drop spaces between two Han characters ('黃 凰' -> '黃凰'): bylines space out names."""
    return re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", text)


@lru_cache(maxsize=4096)
def _char_variants(char: str) -> str:
    """The simplified and traditional forms of one character, itself first."""
    forms = dict.fromkeys([char, char_s2t(char), char_t2s(char)])
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


def han_characters() -> list[str]:
    """Every character ``HAN`` matches, in code point order."""
    return [chr(code) for lo, hi in HAN_RANGES for code in range(lo, hi + 1)]


@lru_cache(maxsize=None)
def _han_table(config: str) -> dict[str, str]:
    """Each Han character converted on its own by OpenCC ``config``.

    One call over all 28,096 characters, one per line (no OpenCC phrase spans a line break, so each
    line converts as the character alone would; tests/test_cleaning_script.py checks it): a few
    milliseconds, against a tenth of a second for one call per character.
    """
    chars = han_characters()
    # Cleaning converts whole texts with t2s only; s2t serves this table alone, so its converter and phrase
    # dictionaries (~27 MB) are dropped once the table is built.
    kept = config == "t2s"
    converter = _converter(config) if kept else opencc.OpenCC(config)
    converted = converter.convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # never seen; fall back to the slow, obviously right way
        converted = [converter.convert(c) for c in chars]
    if not kept:
        del converter
        _return_freed_memory()
    return dict(zip(chars, converted))


def _return_freed_memory() -> None:
    """Give memory freed by C++ (an OpenCC converter's dictionaries) back to the system: glibc keeps it in
    the process otherwise, and every cleaning worker would carry it for the whole crawl."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):  # not glibc
        pass


@lru_cache(maxsize=65536)
def char_t2s(char: str) -> str:
    """``t2s`` of one character, cached: the per-character checks call it a lot."""
    converted = _han_table("t2s").get(char)
    return t2s(char) if converted is None else converted


@lru_cache(maxsize=65536)
def char_s2t(char: str) -> str:
    converted = _han_table("s2t").get(char)
    return s2t(char) if converted is None else converted


def han_class(keep) -> re.Pattern:
    """A regex matching the Han characters for which ``keep(char)`` is true: a per-character test run
    once for all characters, so that counting them in a text is one ``findall`` instead of a Python
    step per character.  (Build it once: it runs ``keep`` 28,096 times.)"""
    runs: list[list[int]] = []  # [first, last] code points of consecutive kept characters
    for char in han_characters():
        if keep(char):
            code = ord(char)
            if runs and runs[-1][1] == code - 1:
                runs[-1][1] = code
            else:
                runs.append([code, code])
    if not runs:
        return re.compile(r"(?!)")
    return re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in runs) + "]")  # Han needs no escaping


@lru_cache(maxsize=None)
def _changed_by(config: str) -> re.Pattern:
    """The Han characters that OpenCC ``config`` changes (taken one by one)."""
    table = _han_table(config)
    return han_class(lambda c: table[c] != c)


def is_traditional(text: str) -> bool:
    """Whether a text is written in traditional characters (more t2s than s2t changes).

    Counts the Han characters ``char_t2s`` changes against those ``char_s2t`` changes.  Simplified text
    usually has none of the first kind, and then the (long) count of the second is not needed."""
    traditional = len(_changed_by("t2s").findall(text))
    if not traditional:
        return False
    simplified = len(_changed_by("s2t").findall(text))
    return traditional > simplified
