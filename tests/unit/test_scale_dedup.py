"""Exact and near-duplicate questions (scireflect/dedup.py)."""

from __future__ import annotations

from scireflect.dedup import Duplicate, exact_key, find_duplicates, normalize
from scireflect.schema import Question

BASE = "A car travels 120 m in 4.0 s at constant speed. What is its speed?"


def q(qid: str, text: str, choices: list[str] | None = None) -> Question:
    return Question(id=qid, question=text, answer="B" if choices else "30", choices=choices,
                    type="multiple_choice" if choices else "numeric")


def test_exact_duplicates_ignore_case_and_spacing_and_keep_the_first():
    qs = [q("a", BASE), q("b", "  a car travels 120 m in 4.0 s at constant speed.\nWhat is its SPEED?  "),
          q("c", BASE)]
    dups = find_duplicates(qs)
    assert set(dups) == {"b", "c"}
    assert dups["b"] == Duplicate("b", "a", "exact") and dups["c"].of == "a"
    assert "duplicate of a" in dups["b"].reason and "same text" in dups["b"].reason


def test_near_duplicate_is_found_with_its_similarity():
    dups = find_duplicates([q("a", BASE), q("b", BASE.replace("at constant", "at a constant"))])
    assert dups["b"].kind == "near" and dups["b"].of == "a"
    assert 0.8 <= dups["b"].similarity < 1.0
    assert "near-duplicate of a" in dups["b"].reason


def test_changed_numbers_or_options_are_not_duplicates():
    qs = [q("a", BASE), q("b", BASE.replace("120", "150")), q("c", BASE.replace("4.0", "5.0"))]
    assert find_duplicates(qs) == {}
    mc = [q("m1", "Which gas is a noble gas?", ["Neon", "Nitrogen"]),
          q("m2", "Which gas is a noble gas?", ["Argon", "Oxygen"])]
    assert find_duplicates(mc) == {}
    assert exact_key(mc[0]) != exact_key(mc[1])


def test_unrelated_questions_and_near_off():
    qs = [q("a", BASE), q("b", "Balance the equation for the combustion of methane in oxygen."),
          q("c", BASE.replace("at constant", "at a constant"))]
    assert set(find_duplicates(qs)) == {"c"}
    assert find_duplicates(qs, near=False) == {}


def test_normalize_keeps_symbols():
    assert normalize("Find  x^2+1") == "find x ^ 2 + 1"


def test_the_same_setup_asked_for_different_things_is_not_a_duplicate() -> None:
    from scireflect.dedup import find_duplicates
    from scireflect.schema import Question

    setup = "A 2.0 kg block slides down a frictionless ramp from a height of 5.0 m and reaches the bottom."
    qs = [Question(id="v", question=setup + " What is its speed?", answer="9.9"),
          Question(id="k", question=setup + " What is its kinetic energy?", answer="98"),
          Question(id="v2", question=setup + " What is its speed ?", answer="9.9")]
    dups = find_duplicates(qs, threshold=0.8)
    assert "k" not in dups and dups["v2"].of == "v"
