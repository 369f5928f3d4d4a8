"""Structure features of a trace: what the classifier counts besides the words."""

from __future__ import annotations

from scireflect.schema import Attempt, Question, Trace, Verdict
from scireflect.training.features import (FEATURE_SCHEMA_VERSION, STRUCT_FEATURES, TEXT_COLUMNS, accepted_attempt,
                                          feature_table, struct_features)


def _trace(solution: str, *, unit: str | None = "m", extracted: str | None = "25 m", verdicts: list | None = None,
           stage: str = "cot", answer_shown: bool = False) -> Trace:
    q = Question(id="f1", question="A car accelerates at 2.0 m/s^2 from rest for 5 s. How far?", answer="25",
                 unit=unit, type="numeric")
    a = Attempt(stage=stage, solution=solution, extracted_answer=extracted, retrieved=["c1", "c2"],
                verdicts=verdicts if verdicts is not None else [Verdict(verifier="answer", ok=True, reason="equal")])
    return Trace(question_id=q.id, question=q, attempts=[a], status="accepted_cot", answer_shown=answer_shown)


def f(trace: Trace) -> dict[str, float]:
    return dict(zip(STRUCT_FEATURES, struct_features(trace), strict=True))


FULL = ("d = (1/2) a t^2 because the car starts from rest.\nd = 0.5 * 2.0 * 5^2 = 25 m.\n"
        "The answer is \\boxed{25 m}.")


def test_schema_and_table_shape() -> None:
    assert FEATURE_SCHEMA_VERSION == 1 and len(set(STRUCT_FEATURES)) == len(STRUCT_FEATURES)
    table = feature_table([_trace(FULL), _trace("25 m")])
    assert table.shape == (2, len(TEXT_COLUMNS) + len(STRUCT_FEATURES))
    assert table[0, 1] == FULL and table[0, 0].startswith("A car")


def test_derivation_versus_answer_only() -> None:
    full, bare = f(_trace(FULL)), f(_trace("\\boxed{25 m}"))
    assert full["n_equations"] > bare["n_equations"] and full["log_chars"] > bare["log_chars"]
    assert full["question_numbers_used"] == 1.0 and bare["question_numbers_used"] == 0.0
    assert full["reasoning_words"] > 0 and bare["reasoning_words"] == 0
    circular = f(_trace("Assume d = 25 m. Substituting it back gives d = 25 m, which is consistent.\n"
                        "The answer is \\boxed{25 m}."))
    assert full["answer_first_position"] > 0.5 > circular["answer_first_position"]
    assert circular["answer_mentions"] > full["answer_mentions"]


def test_unit_match_reference_phrases_and_truncation() -> None:
    assert f(_trace(FULL))["answer_unit_match"] == 1.0
    assert f(_trace(FULL, extracted="25 km"))["answer_unit_match"] == 0.0
    assert f(_trace(FULL, unit=None))["answer_unit_match"] == 0.5
    assert f(_trace("The reference answer is 25 m, so d = 25 m."))["reference_phrases"] == 1.0
    assert f(_trace("d = (1/2) a t^2 = 0.5 * 2.0 * 5^"))["ends_cleanly"] == 0.0
    assert f(_trace(FULL))["ends_cleanly"] == 1.0


def test_verdicts_stage_and_retrieval() -> None:
    steps = Verdict(verifier="steps", ok=False, reason="wrong_step", required=False,
                    details={"steps": [{"ok": True}, {"ok": False}, {"ok": None}, {"ok": True}]})
    counted = Verdict(verifier="steps", ok=True, reason="checked", score=0.5, required=False,
                      details={"checked": 4, "unchecked": 0})
    x = f(_trace(FULL, verdicts=[Verdict(verifier="answer", ok=True, reason="equal"), steps], stage="with_answer",
                 answer_shown=True))
    assert x["steps_present"] == 1.0 and x["steps_checked_share"] == 0.75
    assert abs(x["steps_passed_share"] - 2 / 3) < 1e-9 and x["steps_failed"] > 0
    assert x["required_ok_share"] == 1.0 and x["answer_ok"] == 1.0  # advisory steps do not count as required
    assert x["stage_with_answer"] == 1.0 and x["answer_shown"] == 1.0 and x["retrieved_n"] == 2.0
    y = f(_trace(FULL, verdicts=[counted]))
    assert y["steps_passed_share"] == 0.5 and y["answer_ok"] == 0.0 and y["steps_present"] == 1.0
    z = f(_trace("no", verdicts=[Verdict(verifier="answer", ok=False, reason="no_answer")]))
    assert z["no_answer"] == 1.0 and z["required_ok_share"] == 0.0 and z["steps_present"] == 0.0


def test_accepted_attempt_is_the_last_verified_one() -> None:
    t = _trace(FULL)
    t.attempts.append(Attempt(stage="reflection", solution="later, unverified"))
    assert accepted_attempt(t).solution == FULL
    assert accepted_attempt(Trace(question_id="x")) is None
    assert len(struct_features(Trace(question_id="x"))) == len(STRUCT_FEATURES)  # empty traces still featurize
