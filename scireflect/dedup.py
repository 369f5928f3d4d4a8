"""Duplicate questions in a batch: exact (same normalised text) and near (MinHash LSH over character 5-grams).

The first occurrence in input order is kept; later ones are reported with the id of the question they
repeat and why, and a run stores them as traces with status ``duplicate``. Science questions that differ
only in a number ("120 m" vs "150 m") share almost all their 5-grams but are different problems, so a
near-duplicate must also have the same numbers, the same options, and ask for the same thing (the content
words of its last sentence).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Literal

from scireflect.errors import missing_dependency
from scireflect.schema import Question

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TOKEN = re.compile(r"\w+|[^\w\s]")
SHINGLE = 5  # characters: robust for short texts, where one inserted word changes many word n-grams


@dataclass(frozen=True)
class Duplicate:
    question_id: str
    of: str
    kind: Literal["exact", "near"]
    similarity: float = 1.0

    @property
    def reason(self) -> str:
        if self.kind == "exact":
            return f"duplicate of {self.of}: same text after normalisation"
        return f"near-duplicate of {self.of}: estimated Jaccard similarity {self.similarity:.2f} of character 5-grams"


def normalize(text: str) -> str:
    """Unicode NFKC, lower case, one space between tokens, punctuation kept (it can carry meaning: 'x^2')."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_TOKEN.findall(text))


def exact_key(q: Question) -> str:
    parts = [normalize(q.question), *(normalize(c) for c in q.choices or [])]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


_STOP = frozenset("the a an of is are was were be what which how its it this that to in on at for by with from and "
                  "or as find determine calculate compute give show if then than into does do".split())
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")


def asked(text: str) -> frozenset[str]:
    """The content words of the last sentence: what the question asks ("What is its speed?" -> {speed})."""
    sentences = [s for s in _SENTENCE.findall(normalize(text)) if re.search(r"[a-z]", s)]
    last = sentences[-1] if sentences else ""
    return frozenset(w for w in re.findall(r"[a-z]{3,}", last) if w not in _STOP)


def _guard(q: Question) -> tuple:
    """What two near-duplicates must share exactly: their numbers, their options, and what they ask (the same
    setup asked for its speed and for its kinetic energy is two questions)."""
    return (tuple(sorted(_NUMBER.findall(q.question))), tuple(normalize(c) for c in q.choices or []),
            asked(q.question))


def shingles(text: str, n: int = SHINGLE) -> set[bytes]:
    norm = normalize(text)
    if len(norm) <= n:
        return {norm.encode()}
    return {norm[i:i + n].encode() for i in range(len(norm) - n + 1)}


def find_duplicates(questions: Iterable[Question], near: bool = True, threshold: float = 0.8,
                    num_perm: int = 128) -> dict[str, Duplicate]:
    """Question id -> Duplicate for every question that repeats an earlier one."""
    qs = list(questions)
    out: dict[str, Duplicate] = {}
    first: dict[str, str] = {}
    for q in qs:
        key = exact_key(q)
        if key in first:
            out[q.id] = Duplicate(q.id, first[key], "exact")
        else:
            first[key] = q.id
    if near:
        out.update(_near(qs, out, threshold, num_perm))
    return out


def _near(qs: list[Question], exact: dict[str, Duplicate], threshold: float, num_perm: int) -> dict[str, Duplicate]:
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError as e:
        raise missing_dependency("datasketch", "scale") from e
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: dict[str, tuple[MinHash, tuple]] = {}
    order: dict[str, int] = {}
    out: dict[str, Duplicate] = {}
    for i, q in enumerate(qs):
        if q.id in exact:
            continue
        m = MinHash(num_perm=num_perm, seed=1)
        m.update_batch(list(shingles(q.question)))
        guard = _guard(q)
        best: tuple[int, str, float] | None = None
        for cand in lsh.query(m):
            cm, cguard = kept[cand]
            sim = m.jaccard(cm)
            if cguard == guard and sim >= threshold and (best is None or order[cand] < best[0]):
                best = (order[cand], cand, sim)
        if best is not None:
            out[q.id] = Duplicate(q.id, best[1], "near", best[2])
            continue
        lsh.insert(q.id, m)
        kept[q.id] = (m, guard)
        order[q.id] = i
    return out
