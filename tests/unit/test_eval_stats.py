"""Wilson intervals and McNemar's exact test against values computed by hand."""

from __future__ import annotations

import pytest

from scireflect.evaluation.stats import mcnemar_exact, paired, summarize, wilson


@pytest.mark.parametrize("k, n, lo, hi", [
    (0, 3, 0.0, 0.5615), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0), (81, 100, 0.7222, 0.8749),
])
def test_wilson(k, n, lo, hi):
    got = wilson(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-4) and got[1] == pytest.approx(hi, abs=1e-4)


def test_wilson_of_nothing_is_uninformative():
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("n", [3, 6, 10, 13, 27])
def test_wilson_ends_exactly_at_0_and_1(n):
    assert wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 1.0


@pytest.mark.parametrize("b, c, p", [
    (0, 0, 1.0), (3, 3, 1.0), (0, 5, 0.0625), (1, 9, 22 / 1024), (5, 0, 0.0625), (2, 3, 1.0),
])
def test_mcnemar_exact(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_paired_counts_only_shared_items():
    a = {"1": True, "2": True, "3": False, "4": False, "only_a": True}
    b = {"1": True, "2": False, "3": True, "4": True, "only_b": False}
    r = paired(a, b)
    assert (r["n"], r["correct_a"], r["correct_b"], r["only_a"], r["only_b"]) == (4, 2, 3, 1, 2)
    assert r["diff"] == pytest.approx(0.25) and r["p_value"] == pytest.approx(1.0)


def test_summarize_skips_unscored_records():
    recs = [{"subject": "p", "ok": True}, {"subject": "p", "ok": False}, {"subject": "c", "ok": True},
            {"subject": "c", "ok": None, "error": "HTTP 500"}]
    s = summarize(recs)
    assert s["overall"]["n"] == 3 and s["overall"]["correct"] == 2
    assert s["subjects"]["c"] == {"n": 1, "correct": 1, "accuracy": 1.0, "ci_low": pytest.approx(0.2065, abs=1e-4),
                                  "ci_high": 1.0}
