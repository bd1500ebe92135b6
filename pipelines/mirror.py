"""Undo the damage that mirror sites do to republished articles.

Mirrors annotate traditional characters with tone-marked pinyin (``質(zhì)量``)
by string replacement on GBK *bytes*.  A replacement that matches across two
characters inserts its annotation mid-character, and the page's decoder then
turns the orphaned byte plus the annotation's '(' into '?':
``當地(dì)`` becomes ``當?shù)亟`` (spurious 數 = trail of 當 + lead of 地) and
everything after the lost byte decodes one byte out of step until an ASCII
byte realigns it.  Other runs lose or gain one byte (``?;顒邮艿狡髽I`` for
``。活動受到企業``).

Repair works on bytes: the text is encoded back to GB18030, each damage site
('?' with or without an orphan ``pinyin)``) becomes one unknown byte (or drops
the byte after it), and the candidates that decode to plausible Chinese are
kept.  An orphan pinyin pins its byte down: the spurious character it
annotated, previous byte + unknown byte, must read that way.  A repair is
accepted only when the plausible candidates agree; otherwise the damaged span
is cut out as a ``garbled`` paragraph so the rest of the text stays in the body.
"""
from __future__ import annotations

import os
import re
import sys
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

from .document import Document, Paragraph
from .script import HAN, char_s2t, char_t2s, count_han, han_class, is_traditional

TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_SYLLABLE = rf"(?=[a-zü{TONED}]*[{TONED}])[a-zü{TONED}]{{1,6}}"
# One or more annotations in a row: a heteronym can be annotated twice ('行(xíng)(háng)'), and removing only
# the first would leave the second after a Han character for the next pass (cleaning must be idempotent).
ANNOTATION = re.compile(rf"(?<=[\u3400-\u9fff\uf900-\ufaff])(?:[(（]{_SYLLABLE}[)）])+")
# The same matches, written to start with the parenthesis: a regex that starts with a lookbehind is tried
# at every character, this one only where a parenthesis is (the lookbehind then checks the character before it).
_ANNOTATION_AT_PARENTHESIS = re.compile(
    rf"[(（](?<=[\u3400-\u9fff\uf900-\ufaff].){_SYLLABLE}[)）](?:[(（]{_SYLLABLE}[)）])*")
ORPHAN = re.compile(rf"\?({_SYLLABLE})\)")
_PUNCTUATION = set("。，、；：？！“”‘’《》（）—…·「」『』【】")
_BREAK_PUNCTUATION = set("。，、")  # what a byte lost at a sentence boundary most likely was
_MID_PUNCTUATION = set(";,:、。，；：")
_SENTENCE_MARKS = set("，,、。；;：:")
_CLOSERS = set("”\"’」』)）")
_CLUSTER_GAP = 6  # sites closer than this are repaired together
_TAIL = 3  # characters after the damaged run that must come out unchanged
_WINDOW_TRIES = 6
_MAX_CANDIDATES = 60000  # byte combinations tried per cluster; beyond this the cluster counts as unrepairable
_GARBLED_SHARE = 0.5  # above this share of damage the whole paragraph is garbled
_MOJIBAKE_SHARE = 0.3


def strip_pinyin(text: str) -> tuple[str, int]:
    """Remove tone-marked pinyin in parentheses right after a Han character.

    Only tone-marked syllables count, so dates '(2011-02-17)' and notes
    '(以下简称省纤检局)' stay.  Returns the text and the number of annotated characters.
    """
    if "(" not in text and "（" not in text:  # most text: no annotation can start, skip the regex
        return text, 0
    return _ANNOTATION_AT_PARENTHESIS.subn("", text)


@lru_cache(maxsize=65536)
def _readings(char: str) -> frozenset[str]:
    """All tone-marked readings of one character (pypinyin's table, loaded on the first annotation)."""
    pypinyin = _pypinyin()
    return frozenset(pypinyin.pinyin(char, style=pypinyin.Style.TONE, heteronym=True)[0])


@lru_cache(maxsize=1)
def _pypinyin():
    """pypinyin without its phrase table: ~12 MB instead of ~58.  Phrases only matter when segmenting words;
    one character at a time gets the same readings from the per-character table (checked for all 41,923)."""
    if "pypinyin" in sys.modules:
        return sys.modules["pypinyin"]
    before = os.environ.get("PYPINYIN_NO_PHRASES")
    os.environ["PYPINYIN_NO_PHRASES"] = "1"  # read once, when pypinyin.constants is imported
    try:
        import pypinyin
    finally:
        if before is None:
            del os.environ["PYPINYIN_NO_PHRASES"]
        else:
            os.environ["PYPINYIN_NO_PHRASES"] = before
    return pypinyin


@lru_cache(maxsize=65536)
def _common_han(char: str) -> bool:
    """A character of GB2312 (after t2s): ordinary news vocabulary, unlike mojibake."""
    try:
        char_t2s(char).encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=65536)  # called per character of every page; a pure function of two values
def plausible(char: str, traditional: bool) -> bool:
    """Whether a character could belong to clean text written in the given script.

    Mojibake is full of rare characters, and of characters from the other
    script (讲 in a traditional text), and of stray ASCII letters.
    """
    if char in _PUNCTUATION or char.isdigit() or char in " .,;:!%()-/":
        return True
    if not HAN.fullmatch(char) or not _common_han(char):
        return False
    foreign = char_s2t(char) != char if traditional else char_t2s(char) != char
    return not foreign


@dataclass(frozen=True)
class Site:
    """One lost byte: a '?' at ``start`` (plus an orphan annotation up to ``end``)."""

    start: int
    end: int
    syllable: str | None


def _genuine_question(text: str, i: int, traditional: bool) -> bool:
    """A real '?' (full-width ？ after NFKC) ends a sentence; a damage '?' sits inside one."""
    rest = text[i + 1:i + 4]
    if not rest or rest[0].isspace() or rest[0] in _CLOSERS:
        return True
    if rest[0] in _MID_PUNCTUATION:
        return False
    if i > 0 and text[i - 1] == ")" and ORPHAN.search(text[max(0, i - 9):i + 1]):
        return False  # right after a damaged annotation
    return all(plausible(c, traditional) for c in rest)


def find_sites(text: str, traditional: bool) -> list[Site]:
    """Every damage site in ``text``, in order."""
    sites = []
    i = text.find("?")
    while i >= 0:
        orphan = ORPHAN.match(text, i)
        if orphan:
            sites.append(Site(i, orphan.end(), orphan.group(1)))
        elif not _genuine_question(text, i, traditional):
            sites.append(Site(i, i + 1, None))
        i = text.find("?", i + 1)
    return sites


def _clusters(sites: list[Site]) -> list[list[Site]]:
    groups: list[list[Site]] = []
    for site in sites:
        if groups and site.start - groups[-1][-1].end <= _CLUSTER_GAP:
            groups[-1].append(site)
        else:
            groups.append([site])
    return groups


def _fullwidth(char: str) -> str:
    """The full-width form NFKC folded an ASCII character from."""
    return chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char


def _pieces(text: str, start: int, end: int, cluster: list[Site]) -> list | None:
    """The window as a list of byte alternatives per character, and Sites."""
    pieces, i, after_site = [], start, 0
    by_start = {s.start: s for s in cluster}
    while i < end:
        if i in by_start:
            site = by_start[i]
            pieces.append(site)
            i, after_site = site.end, (2 if site.syllable is None else 0)
            continue
        char = text[i]
        encoded = char.encode("gb18030", errors="ignore")
        if not encoded or len(encoded) > 2:
            return None
        options = [encoded]
        if after_site and char.isascii() and not char.isdigit() and not char.isspace():
            options.append(_fullwidth(char).encode("gb18030"))
        after_site = max(0, after_site - 1)
        pieces.append(options)
        i += 1
    return pieces


def _site_bytes(site: Site, previous: bytes) -> tuple[tuple[bytes, int], ...]:
    """(inserted byte, tier) choices for one site given the bytes before it.

    Tier 0: pinned by the orphan pinyin; tier 1: the byte after the '?' was
    surplus and goes; tier 2: some lost byte (re-ranked once the next byte is
    known, see ``_candidates``).
    """
    if site.syllable is None:
        return _LOST_BYTE
    if not previous:
        return ()
    return _pinned_bytes(previous[-1], site.syllable)


_LOST_BYTE = ((b"", 1),) + tuple((bytes([value]), 2) for value in range(0x81, 0xFF))


@lru_cache(maxsize=4096)  # the candidate walk asks again for every combination before the site
def _pinned_bytes(previous: int, syllable: str) -> tuple[tuple[bytes, int], ...]:
    """The trail bytes after lead byte ``previous`` that make a character read ``syllable`` (tier 0)."""
    out = []
    for value in range(0x40, 0xFF):
        try:
            char = bytes([previous, value]).decode("gb18030")
        except UnicodeDecodeError:
            continue
        if len(char) == 1 and syllable in _readings(char):
            out.append((bytes([value]), 0))
    return tuple(out)


def _candidates(pieces: list):
    """Yield (bytes, tier) for every combination of site bytes and character forms.

    A lost byte that makes 。，、 with the next byte ranks with the pinned ones:
    a byte lost at a sentence boundary most likely belonged to punctuation.
    """
    def walk(index: int, built: bytes, tier: int, after: str | None):
        if index == len(pieces):
            yield built, tier
            return
        piece = pieces[index]
        if isinstance(piece, Site):
            for value, cost in _site_bytes(piece, built):
                yield from walk(index + 1, built + value, tier + cost, "drop" if not value and cost == 1
                                else ("lost" if cost == 2 else None))
            return
        for option in piece:
            if after == "drop":
                yield from walk(index + 1, built + option[1:], tier, None)
                continue
            bonus = 0
            if after == "lost":
                try:
                    bonus = -2 if (built[-1:] + option[:1]).decode("gb18030") in _BREAK_PUNCTUATION else 0
                except UnicodeDecodeError:
                    pass
            yield from walk(index + 1, built + option, tier + bonus, None)
    yield from walk(0, b"", 0, None)


def _estimate(pieces: list) -> int:
    total = 1
    for piece in pieces:
        total *= (4 if piece.syllable else 191) if isinstance(piece, Site) else len(piece)
    return total


def _changed(before: str, after: str) -> str:
    """The middle of ``after`` that differs from ``before`` (common prefix and suffix cut)."""
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    return after[head:len(after) - tail]


def _repair_window(text: str, cluster: list[Site], end: int, traditional: bool) -> str | None:
    """The unique best repair of ``text`` from just before the cluster to ``end``, if any."""
    start = max(0, cluster[0].start - 1)
    pieces = _pieces(text, start, end, cluster)
    if pieces is None or _estimate(pieces) > _MAX_CANDIDATES:
        return None
    window, anchor = text[start:end], text[max(start, end - _TAIL):end]
    best: dict[int, set[str]] = {}
    for raw, tier in _candidates(pieces):
        try:
            decoded = raw.decode("gb18030")
        except UnicodeDecodeError:
            continue
        if end < len(text) and not decoded.endswith(anchor):
            continue
        if all(plausible(c, traditional) for c in _changed(window, decoded)):
            best.setdefault(tier, set()).add(decoded)
    winners = best[min(best)] if best else set()
    return winners.pop() if len(winners) == 1 else None


def _repair_cluster(text: str, cluster: list[Site], traditional: bool) -> tuple[int, int, str] | None:
    """(start, end, replacement) for one cluster of sites, or None when not repairable.

    Where the shifted run ends is not visible (mojibake is often made of
    everyday characters), so the first few places where clean-looking text
    resumes are tried in turn; the run must realign by each one's tail.
    """
    for resume in _resume_points(text, cluster[-1].end, traditional, run=2)[:_WINDOW_TRIES]:
        end = min(len(text), resume + _TAIL)
        replacement = _repair_window(text, cluster, end, traditional)
        if replacement is not None:
            return max(0, cluster[0].start - 1), end, replacement
    return None


@lru_cache(maxsize=65536)
def _everyday_han(char: str) -> bool:
    """GB2312 level 1 (after t2s): the 3,755 most used characters."""
    try:
        code = char_t2s(char).encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 0xB0A1 <= int.from_bytes(code, "big") <= 0xD7F9


@lru_cache(maxsize=8)
def _clean_starts(text: str, traditional: bool, run: int) -> tuple[int, ...]:
    """Every place in ``text`` where clean-looking text starts (see ``_resume_points``).

    Computed once per text: the repair and the garbled spans ask again for
    every damage site, and judging the rest of the paragraph each time made a
    paragraph of binary noise quadratic (tens of seconds per page).
    """
    han = [_everyday_han(c) and plausible(c, traditional) for c in text]
    good = [ok or c in _SENTENCE_MARKS for ok, c in zip(han, text)]
    return tuple(i for i in range(len(text) - run + 1) if han[i] and all(good[i:i + run]))


def _resume_points(text: str, start: int, traditional: bool, run: int) -> list[int]:
    """Where clean-looking text resumes after ``start`` (the text's end last).

    Clean-looking: ``run`` characters, everyday script-consistent Han or
    sentence punctuation, starting with a Han character.
    """
    starts = _clean_starts(text, traditional, run)
    return list(starts[bisect_left(starts, start):]) + [len(text)]


def _garbled_span(text: str, site: Site, traditional: bool) -> tuple[int, int]:
    """From the site to where clean text (three everyday Han characters) resumes."""
    return site.start, _resume_points(text, site.end, traditional, run=3)[0]


def repair_mojibake(text: str, traditional: bool | None = None) -> tuple[list[tuple[str, bool]], int]:
    """Repair byte-shift damage in one paragraph.

    ``traditional`` is the script of the whole article (a short paragraph of
    mojibake would mislead the guess).  Returns the text as pieces
    ``(text, garbled)`` — one clean piece when all damage was repaired — and
    the number of repaired sites.
    """
    traditional = is_traditional(text) if traditional is None else traditional
    repaired = 0
    for cluster in reversed(_clusters(find_sites(text, traditional))):
        fix = _repair_cluster(text, cluster, traditional)
        if fix:
            start, end, replacement = fix
            text = text[:start] + replacement + text[end:]
            repaired += len(cluster)
    pieces, cursor = [], 0
    for cluster in _clusters(find_sites(text, traditional)):
        start, end = _garbled_span(text, cluster[0], traditional)
        end = max(end, _garbled_span(text, cluster[-1], traditional)[1])
        if start < cursor:
            pieces[-1] = (pieces[-1][0] + text[cursor:end], True)
        else:
            pieces += [(text[cursor:start], False), (text[start:end], True)]
        cursor = max(cursor, end)
    pieces.append((text[cursor:], False))
    return [(t.strip(), bad) for t, bad in pieces if t.strip()], repaired


def _utf8_as_gbk(text: str) -> str | None:
    """UTF-8 bytes shown as GBK (鍏ㄧ渷 for 全省): reverse it when the result reads well."""
    try:
        fixed = text.encode("gbk").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    return fixed if not _mostly_mojibake(fixed) else None


@lru_cache(maxsize=2)
def _implausible_han(traditional: bool) -> re.Pattern:
    """The Han characters ``plausible`` rejects in clean text of that script, as one regex class.

    Built on first use (~0.1 s); ``plausible`` is called unwrapped, so its 28,096 answers do not crowd
    the cache the other per-character checks use."""
    return han_class(lambda c: not plausible.__wrapped__(c, traditional))


def _mostly_mojibake(text: str, traditional: bool | None = None) -> bool:
    """Whether so many Han characters are rare or of the wrong script that the text cannot be prose."""
    if traditional is None:
        if count_han(text) < 6:  # too short to judge: spare guessing the script
            return False
        traditional = is_traditional(text)
    implausible = len(_implausible_han(traditional).findall(text))
    if not implausible:  # clean text has no implausible character at all: then nothing else to count
        return False
    han = count_han(text)
    return han >= 6 and implausible > _MOJIBAKE_SHARE * han


def _rebuilt(paragraph: Paragraph, text: str, kind: str = "body", reason: str | None = None) -> Paragraph:
    """A paragraph with new text (and kind), keeping what the input stage knew about it."""
    return Paragraph(text, kind, reason, paragraph.tag, paragraph.link_density)


def _repair_paragraph(paragraph: Paragraph, traditional: bool) -> tuple[list[Paragraph], set[str]]:
    """The body paragraph after repair, split around unrepairable spans, and the flags it earned."""
    text = paragraph.text
    # Clean text in the other script (a simplified headline over a traditional body) is not mojibake.
    if "?" not in text and _mostly_mojibake(text, traditional) and _mostly_mojibake(text, not traditional):
        fixed = _utf8_as_gbk(text)
        if fixed is None:
            return [paragraph.mark("garbled", "pinyin-free mojibake, not repairable")], {"garbled"}
        return [_rebuilt(paragraph, fixed)], {"mojibake_repaired"}
    pieces, repaired = repair_mojibake(text, traditional)
    pieces = [(strip_pinyin(t)[0], bad) for t, bad in pieces]
    flags = {"mojibake_repaired"} if repaired else set()
    if not any(bad for _, bad in pieces):
        return [_rebuilt(paragraph, "".join(t for t, _ in pieces))], flags
    reason = "byte-shift mojibake, not repairable"
    damaged = sum(len(t) for t, bad in pieces if bad)
    if damaged >= _GARBLED_SHARE * sum(len(t) for t, _ in pieces):
        return [paragraph.mark("garbled", reason)], flags | {"garbled"}
    return [_rebuilt(paragraph, t, "garbled", reason) if bad else _rebuilt(paragraph, t) for t, bad in pieces], \
        flags | {"garbled"}


def strip_annotations(doc: Document) -> Document:
    """Remove pinyin annotations from every paragraph (and flag ``pinyin_removed``)."""
    out, removed = [], 0
    for paragraph in doc.paragraphs:
        text, count = strip_pinyin(paragraph.text)
        out.append(_rebuilt(paragraph, text, paragraph.kind, paragraph.reason) if count else paragraph)
        removed += count
    doc = doc.with_paragraphs(out)
    return doc.with_flag("pinyin_removed") if removed else doc


def repair_mirror(doc: Document) -> Document:
    """Repair mojibake in body paragraphs; fence off what cannot be repaired as ``garbled``."""
    out, flags = [], set()
    traditional = is_traditional("".join(p.text for p in doc.body()))
    for paragraph in doc.paragraphs:
        if paragraph.kind != "body":
            out.append(paragraph)
            continue
        repaired, earned = _repair_paragraph(paragraph, traditional)
        out += repaired
        flags |= earned
    return doc.with_paragraphs(out).with_flag(*sorted(flags))
