"""Near-duplicate tests on article text: shingles, MinHash signatures, LSH bands, verification.

No SQL: ``archive.clusters`` stores what these compute.

Reprints differ from the original by a new lead line, a sentence added or
dropped, other boilerplate, truncation, or traditional script.  A text is reduced
to the set of character 5-grams of its normalised simplified form (NFKC, OpenCC
t2s when needed, whitespace and punctuation removed); shorter n-grams make
different stories on one topic look alike.

Candidates come from MinHash-LSH (datasketch ``MinHash``; BANDS bands of ROWS
values).  A candidate pair is a reprint when its 5-gram sets have a high Jaccard
similarity *or* the smaller is mostly contained in the larger: a truncated or
heavily wrapped reprint has a low Jaccard similarity but is still almost wholly
contained in its original.  ``triage`` settles clear cases from the MinHash
estimates, because a containment estimated from a signature is noisy when one text
is several times longer.  Of the rest, the sampled shingles (stored beside the
signature, ~1 in 8) rule out most (``ruled_out``: stories sharing a few sentences),
and only what they cannot rule out is compared exactly (``same_story``), which
needs both texts.

Speed: hashing every 5-gram through NUM_PERM permutations costs ~1 ms per article,
too slow for 100k articles in a minute on one core.  So MinHash sees a sample of the
shingles chosen by value (Broder's "mod m": kept when the low bits of the
fingerprint are zero).  The choice depends on the shingle alone, so two texts
keep the same share of what they have in common and the sampled sets estimate
the similarity of the full sets without bias.  Changing any constant here
requires ``archive.cluster_rebuild.rebuild``.

The signature is datasketch's ``MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int)``
computed here in numpy (same permutations, same values; tests compare the two):
importing datasketch loads scipy, ~75 MB in every process that stores articles.
``shingle_sets`` shingles the several texts an article is compared with in one pass,
``RecentSets`` keeps the sets of texts compared recently, and ``_normalised_code_points``
does ``normalise`` by table lookup where that gives the same code points.
"""
from __future__ import annotations

import math
import re
import sys
import threading
import unicodedata
from collections import OrderedDict
from functools import lru_cache

import numpy as np

SHINGLE = 5  # characters; shorter n-grams make same-topic stories look alike
SAMPLE_MASK = 7  # MinHash sees 1 shingle in 8 (see module docstring)
NUM_PERM = 96
BANDS, ROWS = 32, 3  # all 96 values; a pair is a candidate with probability 0.5 at Jaccard ~0.28
SEED = 1
MIN_SHINGLES = 6  # fewer sampled shingles (< ~50 characters): too short to call a reprint
# A pair is a reprint when its exact 5-gram sets have this Jaccard similarity, or this
# containment of the smaller text in the larger.  On the synthetic benchmark distinct
# stories on one topic reach Jaccard 0.40 and containment 0.77 at most.
MIN_JACCARD = 0.45
MIN_CONTAINMENT = 0.8
# MinHash estimates decide clear cases without reading the texts: estimates from few
# sampled shingles are noisy, so only confident, large enough pairs skip the exact check.
SURE_JACCARD, SURE_SHINGLES = 0.6, 20
UNLIKELY_JACCARD, UNLIKELY_CONTAINMENT = 0.25, 0.55
# The sampled shingles themselves (``sample``) rule out most pairs the MinHash estimate leaves unsure; a pair of
# reprints is ruled out with a chance of at most SAMPLE_MISS (a Chernoff bound, see ``ruled_out``).
SAMPLE_MISS = 1e-6
ACCEPT, REJECT, CHECK = 1, 0, 2

_NOT_WORD = re.compile(r"[\W_]+")
_POLY = np.uint64(0x100000001B3)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_T2S = None


def normalise(text: str, simplified: bool = True) -> str:
    """NFKC, simplified script, no whitespace or punctuation: what reprints keep of a text.

    Punctuation goes first: what is left is mostly ideographs, already NFKC, so the
    slow normalisation runs only on the few texts that need it.
    """
    text = _to_simplified(text or "") if not simplified else text or ""
    text = _NOT_WORD.sub("", text)
    if not unicodedata.is_normalized("NFKC", text):
        text = _NOT_WORD.sub("", unicodedata.normalize("NFKC", text))
    return text


def _to_simplified(text: str) -> str:
    global _T2S
    if _T2S is None:
        import opencc

        _T2S = opencc.OpenCC("t2s")
    return _T2S.convert(text)


def shingles(text: str) -> np.ndarray:
    """Sorted distinct 32-bit fingerprints of the 5-grams of normalised ``text``.

    A 5-gram is fingerprinted as a polynomial over its code points followed by the
    splitmix64 finaliser, in numpy: one vector pass instead of a Python call per
    shingle.  Texts shorter than 5 characters have no shingles.
    """
    return _distinct(_fingerprints(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)))


def _fingerprints(cps: np.ndarray) -> np.ndarray:
    """The fingerprint of every 5-gram of the code points ``cps``, in text order (repeats included)."""
    cps = cps.astype(np.uint64)
    count = len(cps) - SHINGLE + 1
    if count < 1:
        return np.empty(0, dtype=np.uint32)
    fp = cps[:count].copy()
    for k in range(1, SHINGLE):
        fp *= _POLY
        fp += cps[k : k + count]
    fp ^= fp >> np.uint64(30)
    fp *= _MIX1
    fp ^= fp >> np.uint64(27)
    fp *= _MIX2
    fp ^= fp >> np.uint64(31)
    return (fp >> np.uint64(32)).astype(np.uint32)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct ``values`` (sort-based: faster than np.unique here)."""
    values = np.sort(values)
    distinct = np.empty(len(values), dtype=bool)
    distinct[:1] = True
    np.not_equal(values[1:], values[:-1], out=distinct[1:])
    return values[distinct]


def shingle_sets(texts: list[str], simplified: list[bool]) -> list[np.ndarray]:
    """``shingles(normalise(text, simplified))`` of each text: fingerprinted and sorted in one pass."""
    pieces = [_normalised_code_points(text or "", s) for text, s in zip(texts, simplified)]
    if len(pieces) < 2:
        return [_distinct(_fingerprints(p)) for p in pieces]
    owners = np.repeat(np.arange(len(pieces), dtype=np.uint64), [len(p) for p in pieces])
    fp = _fingerprints(np.concatenate(pieces)).astype(np.uint64)
    first, last = owners[: len(fp)], owners[SHINGLE - 1 : SHINGLE - 1 + len(fp)]
    within = first == last  # 5-grams of one text, not across two
    keys = _distinct(fp[within] | (first[within] << np.uint64(32)))  # each text's fingerprints, sorted, apart
    bounds = np.searchsorted(keys, np.arange(len(pieces) + 1, dtype=np.uint64) << np.uint64(32)).tolist()
    keys = keys.astype(np.uint32)
    return [keys[bounds[k] : bounds[k + 1]] for k in range(len(pieces))]


class RecentSets:
    """``shingle_sets`` with the sets of recently seen texts kept, least recently used dropped beyond ``budget``
    bytes (texts and sets).  Keyed by the text itself, so a changed text is never given an old set; the sets
    are shared and read-only."""

    def __init__(self, budget: int):
        self.sets: OrderedDict[tuple[str, bool], np.ndarray] = OrderedDict()
        self.size, self.budget, self.lock = 0, budget, threading.Lock()

    def __call__(self, texts: list[str], simplified: list[bool]) -> list[np.ndarray]:
        with self.lock:
            return self._sets(texts, simplified)

    def _sets(self, texts: list[str], simplified: list[bool]) -> list[np.ndarray]:
        keys = list(zip(texts, simplified))
        found = [self.sets.get(key) for key in keys]
        missing = [k for k, value in enumerate(found) if value is None]
        for k, value in zip(missing, shingle_sets([texts[k] for k in missing], [simplified[k] for k in missing])):
            value.flags.writeable = False
            found[k] = value
            if keys[k] not in self.sets:
                self.sets[keys[k]] = value
                self.size += sys.getsizeof(texts[k]) + value.nbytes
        for key in keys:
            if key in self.sets:
                self.sets.move_to_end(key)
        while self.size > self.budget:
            (text, _), value = self.sets.popitem(last=False)
            self.size -= sys.getsizeof(text) + value.nbytes
        return found


# What normalise does to a BMP character: removes it (_DROP); keeps it (_KEEP) where a text of such characters
# is NFKC-normalised whatever their order (quick check YES: each is its own NFKC form, a starter, and never the
# second of a composition); keeps it, but the text then needs normalise's NFKC check (_CHECK).  U+FFFF stands
# for every character beyond the BMP (_OTHER), which go through normalise itself.
_DROP, _KEEP, _CHECK, _OTHER = 0, 1, 2, 3
_HANGUL_SECONDS = [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]  # vowel and final jamo: composed by rule


@lru_cache(maxsize=1)
def _classes() -> np.ndarray:
    table = np.zeros(0x10000, dtype=np.uint8)  # 64 KB, built in ~50 ms
    seconds = set(_HANGUL_SECONDS)
    for code in range(0xFFFF):
        decomposition = unicodedata.decomposition(chr(code)).split()
        if len(decomposition) == 2 and not decomposition[0].startswith("<"):
            seconds.add(int(decomposition[1], 16))
    kept = _NOT_WORD.sub("", "".join(map(chr, range(0xFFFF))))  # the very pattern normalise applies
    for char in kept:
        inert = ord(char) not in seconds and not unicodedata.combining(char)
        table[ord(char)] = _KEEP if inert and unicodedata.normalize("NFKC", char) == char else _CHECK
    table[0xFFFF] = _OTHER
    return table


def _normalised_code_points(text: str, simplified: bool = True) -> np.ndarray:
    """The code points of ``normalise(text, simplified)``, by table lookup where that is exact.

    A text that keeps a _CHECK character is checked for NFKC as ``normalise`` checks it; one
    with characters beyond the BMP (or U+FFFF) is left to ``normalise`` itself.
    """
    if not simplified:
        text = _to_simplified(text)
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    classes = np.take(_classes(), cps, mode="clip")  # beyond the BMP: clipped to U+FFFF, _OTHER
    most = classes.max(initial=_DROP)
    if most == _OTHER:
        return np.frombuffer(normalise(text).encode("utf-32-le"), dtype=np.uint32)
    if most <= _KEEP:
        return cps[classes.view(np.bool_)]
    cps = cps[classes != _DROP]
    text = cps.tobytes().decode("utf-32-le")
    if not unicodedata.is_normalized("NFKC", text):
        return np.frombuffer(normalise(text).encode("utf-32-le"), dtype=np.uint32)
    return cps


_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch MinHash's permutation parameters ``a``, ``b`` for NUM_PERM and SEED (its _init_permutations)."""
    gen = np.random.RandomState(SEED)
    ab = np.array([(gen.randint(1, _MERSENNE, dtype=np.uint64), gen.randint(0, _MERSENNE, dtype=np.uint64))
                   for _ in range(NUM_PERM)], dtype=np.uint64)
    return ab[:, 0].copy(), ab[:, 1].copy()


def sample(fingerprints: np.ndarray) -> np.ndarray:
    """The shingles MinHash sees (1 in SAMPLE_MASK + 1, chosen by value), sorted as ``fingerprints`` are."""
    return fingerprints[(fingerprints & SAMPLE_MASK) == 0]


def signature(fingerprints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """datasketch MinHash (uint32[NUM_PERM]) of the sampled shingles, and those shingles (``sample``).

    datasketch computes ``min((v * a + b) % (2**61 - 1) & (2**32 - 1))`` over the values ``v`` in uint64
    (the product wrapping at 2**64); so does this, reducing modulo the Mersenne prime with shifts.
    """
    kept = sample(fingerprints)
    a, b = _permutations()
    result = np.full(NUM_PERM, _MAX_HASH, dtype=np.uint64)  # an empty set keeps datasketch's initial values
    for start in range(0, len(kept), 2048):  # bounded temporaries for very long texts
        values = kept[start : start + 2048].astype(np.uint64)[:, None] * a
        values += b
        high = values >> np.uint64(61)
        values &= _MERSENNE
        values += high  # congruent modulo 2**61 - 1 and below twice that
        np.minimum(values, values - _MERSENNE, out=values)  # subtract it once where due (else it wraps, larger)
        values &= _MAX_HASH
        np.minimum(result, values.min(axis=0), out=result)
    return result.astype(np.uint32), kept


def band_keys(sig: np.ndarray) -> list[bytes]:
    """The LSH bucket of each band: the band's values as bytes (exact, no further hashing)."""
    raw = sig[: BANDS * ROWS].astype("<u4")
    return [raw[b * ROWS : (b + 1) * ROWS].tobytes() for b in range(BANDS)]


def triage(sig_a, n_a, sigs_b, n_b) -> np.ndarray:
    """ACCEPT, REJECT or CHECK (compare the texts) per row of ``sigs_b``, from MinHash estimates.

    ``sig_a`` is one signature, or one per row of ``sigs_b`` (pairs row by row).

    Containment of the smaller sampled set in the larger follows from the Jaccard
    estimate and the set sizes: |A∩B| = J/(1+J) * (|A|+|B|).
    """
    equal = np.atleast_2d(sigs_b) == sig_a
    jaccard = np.count_nonzero(equal, axis=1) / equal.shape[1]  # the mean, without its overhead
    n_a, n_b = np.asarray(n_a, dtype=np.float64), np.asarray(n_b, dtype=np.float64)
    smaller = np.minimum(n_a, n_b)
    containment = jaccard / (1.0 + jaccard) * (n_a + n_b) / np.maximum(smaller, 1)
    sure = (jaccard >= SURE_JACCARD) & (smaller >= SURE_SHINGLES)
    unlikely = (jaccard < UNLIKELY_JACCARD) & (containment < UNLIKELY_CONTAINMENT)
    codes = np.where(sure, ACCEPT, np.where(unlikely, REJECT, CHECK))
    return np.where(smaller >= MIN_SHINGLES, codes, REJECT)


def ruled_out(sample_a: np.ndarray, samples_b: list[np.ndarray]) -> np.ndarray:
    """Per sample of ``samples_b``: True where the two samples make a reprint all but impossible.

    A shingle is sampled by its value, so the sampled shingles of A are a random
    subset of A's (given their number), and those also in B are the sampled shared
    ones.  Their count is then hypergeometric around ``containment * sampled``; a
    count far enough below what MIN_CONTAINMENT would give (in both directions:
    which text is the smaller one in full is unknown here), and a shared share of the
    sampled union far enough below MIN_JACCARD, has a chance of at most SAMPLE_MISS
    for a pair that ``same_story`` accepts (Chernoff-Hoeffding bound, which holds
    for sampling without replacement).  Cost: one sorted lookup of all samples.
    """
    sizes = np.array([len(s) for s in samples_b], dtype=np.int64)
    values = np.concatenate(samples_b) if len(samples_b) else np.empty(0, dtype=np.uint32)
    if not len(sample_a) or not len(values):
        return np.zeros(len(samples_b), dtype=bool)
    found = _in_sorted(sample_a, values)
    common = np.bincount(np.repeat(np.arange(len(sizes)), sizes), weights=found, minlength=len(sizes))
    return _unlikely(common, len(sample_a), sizes)


def ruled_out_pairs(samples: list[np.ndarray], first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``ruled_out(samples[first[k]], [samples[second[k]]])`` for every k, vectorised (the full rebuild)."""
    owners = np.unique(first)
    owner_sizes = np.array([len(samples[o]) for o in owners.tolist()], dtype=np.int64)
    keys = np.concatenate([samples[o] for o in owners] + [np.empty(0, dtype=np.uint32)]).astype(np.uint64)
    keys |= np.repeat(owners.astype(np.uint64) << np.uint64(32), owner_sizes)  # sorted: by owner, then value
    lengths = np.array([len(samples[o]) for o in second.tolist()], dtype=np.int64)
    pair_of = np.repeat(np.arange(len(second)), lengths)
    values = np.concatenate([samples[o] for o in second.tolist()] + [np.empty(0, dtype=np.uint32)])
    queries = values.astype(np.uint64) | (first[pair_of].astype(np.uint64) << np.uint64(32))
    found = _in_sorted(keys, queries)
    common = np.bincount(pair_of, weights=found, minlength=len(second))
    return _unlikely(common, owner_sizes[np.searchsorted(owners, first)], lengths)


def _in_sorted(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Per query: whether it is one of the sorted ``keys`` (one binary search for all)."""
    if not len(keys):
        return np.zeros(len(queries), dtype=bool)
    return keys[np.minimum(np.searchsorted(keys, queries), len(keys) - 1)] == queries


def _unlikely(common, size_a, size_b) -> np.ndarray:
    """Far below MIN_CONTAINMENT both ways, and far below MIN_JACCARD (see ``ruled_out``)."""
    return (_far_below(common, size_a, MIN_CONTAINMENT) & _far_below(common, size_b, MIN_CONTAINMENT)
            & _far_below(common, size_a + size_b - common, MIN_JACCARD))


def _far_below(hits, trials, rate: float) -> np.ndarray:
    """True where ``hits`` of ``trials`` draws is below ``rate`` with a chance of at most SAMPLE_MISS
    if the true rate were ``rate`` or more: ``trials * KL(hits / trials || rate) > ln(1 / SAMPLE_MISS)``."""
    trials = np.asarray(trials, dtype=np.float64)
    seen = np.clip(hits / np.maximum(trials, 1), 1e-12, 1 - 1e-12)
    divergence = seen * np.log(seen / rate) + (1 - seen) * np.log((1 - seen) / (1 - rate))
    return (seen < rate) & (trials * divergence > -math.log(SAMPLE_MISS))


def same_story(a: np.ndarray, b: np.ndarray) -> bool:
    """The exact test on two shingle sets: Jaccard or containment of the smaller high enough."""
    if not len(a) or not len(b):
        return False
    both = np.concatenate((a, b))
    both.sort()
    common = np.count_nonzero(both[1:] == both[:-1])  # as len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common) >= MIN_JACCARD or common / min(len(a), len(b)) >= MIN_CONTAINMENT
