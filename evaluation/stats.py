"""Accuracy with Wilson 95% intervals, per subject and overall, its standard error, and McNemar's
exact test for two runs scored on the same items."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any, Iterable

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (well-behaved at 0, n and small n)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 and k = n the interval ends exactly at 0 or 1; the formula only gets there up to rounding.
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def sem(k: int, n: int) -> float | None:
    """Standard error of the mean of n 0/1 outcomes with k ones, from the sample standard deviation
    (ddof=1), as lm-evaluation-harness reports ``acc_stderr``; None below two outcomes."""
    if n < 2:
        return None
    p = k / n
    return math.sqrt(p * (1 - p) / (n - 1))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: b items right only in A, c right only in B.

    Under the null the discordant items split Binomial(b + c, 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


@dataclass
class Accuracy:
    n: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float

    @classmethod
    def of(cls, correct: int, n: int) -> "Accuracy":
        lo, hi = wilson(correct, n)
        return cls(n=n, correct=correct, accuracy=correct / n if n else 0.0, ci_low=lo, ci_high=hi)


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per-subject accuracy of scored records (records with an error are not scored)."""
    by_subject: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        if r.get("ok") is None:
            continue
        by_subject[r.get("subject") or "general"].append(bool(r["ok"]))
    overall = [ok for oks in by_subject.values() for ok in oks]
    return {"overall": asdict(Accuracy.of(sum(overall), len(overall))),
            "subjects": {s: asdict(Accuracy.of(sum(oks), len(oks))) for s, oks in sorted(by_subject.items())}}


def paired(a: dict[str, bool], b: dict[str, bool]) -> dict[str, Any]:
    """Paired comparison on the items both runs scored: accuracies, difference, discordant counts, p."""
    ids = sorted(a.keys() & b.keys())
    only_a = sum(1 for i in ids if a[i] and not b[i])
    only_b = sum(1 for i in ids if b[i] and not a[i])
    n = len(ids)
    k_a, k_b = sum(a[i] for i in ids), sum(b[i] for i in ids)
    acc_a, acc_b = (k_a / n, k_b / n) if n else (0.0, 0.0)
    return {"n": n, "correct_a": k_a, "correct_b": k_b, "acc_a": acc_a, "acc_b": acc_b, "diff": acc_b - acc_a,
            "ci_a": wilson(k_a, n), "ci_b": wilson(k_b, n), "only_a": only_a, "only_b": only_b,
            "p_value": mcnemar_exact(only_a, only_b)}
