"""Near-duplicate tests on article text: shingles, MinHash signatures, LSH bands, verification.

Pure functions, no SQL: ``archive.clusters`` stores what they compute.

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
estimates; the rest are compared exactly (``same_story``), because a containment
estimated from a signature is noisy when one text is several times longer.

Speed: hashing every 5-gram through NUM_PERM permutations costs ~1 ms per article,
too slow for 100k articles in a minute on one core.  So MinHash sees a sample of the
shingles chosen by value (Broder's "mod m": kept when the low bits of the
fingerprint are zero).  The choice depends on the shingle alone, so two texts
keep the same share of what they have in common and the sampled sets estimate
the similarity of the full sets without bias.  Changing any constant here
requires ``archive.clusters.rebuild``.
"""
from __future__ import annotations

import re
from functools import lru_cache
import unicodedata

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
    global _T2S
    text = text or ""
    if not simplified:
        if _T2S is None:
            import opencc

            _T2S = opencc.OpenCC("t2s")
        text = _T2S.convert(text)
    text = _NOT_WORD.sub("", text)
    if not unicodedata.is_normalized("NFKC", text):
        text = _NOT_WORD.sub("", unicodedata.normalize("NFKC", text))
    return text


def shingles(text: str) -> np.ndarray:
    """Sorted distinct 32-bit fingerprints of the 5-grams of normalised ``text``.

    A 5-gram is fingerprinted as a polynomial over its code points followed by the
    splitmix64 finaliser, in numpy: one vector pass instead of a Python call per
    shingle.  Texts shorter than 5 characters have no shingles.
    """
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
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
    values = np.sort((fp >> np.uint64(32)).astype(np.uint32))
    distinct = np.empty(len(values), dtype=bool)  # sort-based: faster than np.unique here
    distinct[0] = True
    np.not_equal(values[1:], values[:-1], out=distinct[1:])
    return values[distinct]


@lru_cache(maxsize=1)
def _minhash():
    """The empty MinHash every signature starts from; datasketch (which loads scipy, ~75 MB) is imported here,
    so reading the archive, or creating one, does not load it."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int)


def signature(fingerprints: np.ndarray) -> tuple[np.ndarray, int]:
    """datasketch MinHash (uint32[NUM_PERM]) of the sampled shingles, and how many were sampled."""
    kept = fingerprints[(fingerprints & SAMPLE_MASK) == 0]
    minhash = _minhash().copy()
    minhash.update_batch(kept.tolist())
    return minhash.hashvalues.astype(np.uint32), len(kept)


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
    jaccard = (np.atleast_2d(sigs_b) == sig_a).mean(axis=1)
    n_a, n_b = np.asarray(n_a, dtype=np.float64), np.asarray(n_b, dtype=np.float64)
    smaller = np.minimum(n_a, n_b)
    containment = jaccard / (1.0 + jaccard) * (n_a + n_b) / np.maximum(smaller, 1)
    sure = (jaccard >= SURE_JACCARD) & (smaller >= SURE_SHINGLES)
    unlikely = (jaccard < UNLIKELY_JACCARD) & (containment < UNLIKELY_CONTAINMENT)
    codes = np.where(sure, ACCEPT, np.where(unlikely, REJECT, CHECK))
    return np.where(smaller >= MIN_SHINGLES, codes, REJECT)


def same_story(a: np.ndarray, b: np.ndarray) -> bool:
    """The exact test on two shingle sets: Jaccard or containment of the smaller high enough."""
    if not len(a) or not len(b):
        return False
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common) >= MIN_JACCARD or common / min(len(a), len(b)) >= MIN_CONTAINMENT
