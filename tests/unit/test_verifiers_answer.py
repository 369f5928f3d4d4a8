"""The ``answer`` verifier: a regression table of real answer pairs, every rule as an option, the API
contract (total, details, gold never in the message) and the registry/graph entry point."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scireflect.errors import VerifierError
from scireflect.schema import Attempt, Question
from scireflect.tools import verify_answer
from scireflect.tools.verifiers import default_registry
from scireflect.tools.verifiers.answer import AnswerVerifier, averify_answer

DEV = Path(__file__).resolve().parents[3] / "shared" / "answer_equiv" / "answer_equiv_dev.jsonl"

# (pred, gold, equal) - one or more per rule of the answer-equivalence README and per issue example.
TABLE = [
    # units through pint
    ("3.0 m/s", "300 cm/s", True), ("300 cm/s", "3.0 m/s", True), (r"2.5\,\mathrm{kJ}", "2500 J", True),
    (r"6.02\times10^{23}\ \text{mol}^{-1}", "6.022e23 mol^-1", True), ("9.81 m s^-2", "9.81 m/s^2", True),
    ("300 K", r"26.85\,^{\circ}\mathrm{C}", True), ("-40 °F", r"-40\ ^\circ\mathrm{C}", True),
    (r"\SI{9.81}{\metre\per\second\squared}", "9.81 m/s^2", True), ("3 meters per second", "3.0 m/s", True),
    ("1 atm", "101.325 kPa", True), ("60 mph", "26.8 m/s", True), ("1 kcal", "4.184 kJ", True),
    (r"2.0\ \mathrm{N\cdot m}", "2.0 J", True), ("26.2 rpm", r"2.74 $\mathrm{rad} \cdot \mathrm{s}^{-1}$", True),
    ("5 g", "5 kg", False), ("2.5 J", "2.5 kJ", False), ("-9.8 m/s^2", "9.8 m/s^2", False),
    # tolerance: decimal golds 1%, exact golds exact
    ("9.9 m/s^2", "9.81 m/s^2", True), ("9.92 m/s^2", "9.81 m/s^2", False), ("2.49 kJ", "2500 J", False),
    ("0.333 m", r"\frac{1}{3}\ \mathrm{m}", False), (r"\frac{1}{3}\ \mathrm{m}", "0.333 m", True),
    ("0.0833333333333333", r"\frac{1}{12}", True), ("2.6667", r"\frac{8}{3}", False), ("3.14", r"\pi", False),
    ("3.14159265", r"\pi", True), (r"\frac{100}{3}", "33.3", True), ("10^{-1000}", "0", False),
    # a bare number is read in the gold's unit; a unitless gold ignores the pred's unit
    ("3.0", "3.0 m/s", True), (r"\boxed{2.5}", "2.5 kJ", True), ("2500", "2.5 kJ", False),
    ("3.52", r"3.52\times10^{-19}\ \mathrm{J}", False), ("9.81 m/s^2", "9.81", True),
    # scientific notation in every spelling
    ("1.2e-3", "0.0012", True), (r"1.2\times 10^{-3}", "0.0012", True), (r"1.2 \cdot 10^{-3}", "0.0012", True),
    ("1.5x10^3 J", "1500 J", True), ("3×10⁸ m/s", r"3.0\times10^{8}\ \mathrm{m/s}", True),
    # percent
    ("28", r"28\%", True), ("0.28", r"28\%", True), (r"28\%", "0.28", True), ("28", "0.28", False),
    (r"2.8\%", r"28\%", False),
    # multiple choice
    ("(B)", "B", True), ("B", "B", True), ("B)", "B", True), ("answer: B", "B", True),
    ("the answer is (B)", "B", True), ("The answer is (b)", "B", True), ("The answer is A.", "C", False),
    # maths through math-verify
    (r"\frac{10}{9}", "10/9", True), (r"$\sqrt3 $", r"$\sqrt{3}$", True), ("(x-1)(x+1)", "x^2-1", True),
    (r"\sin^2 x + \cos^2 x", "1", True), ("$[0,1)$", "$(0,1)$", False), (r"$x = 3$", "3", True),
    (r"$1 \pm \sqrt{19}$", r"$1 \pm \sqrt{19}$", True), ("-2 \\text{ or } 1", "1,-2", True),
    (r"\begin{pmatrix}1 & 3 \\ 2 & 4\end{pmatrix}", r"\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}", False),
    ("(2,1)", "(1,2)", False), (r"-\infty", r"\infty", False), ("1", r"1\sqrt{19}", False),
    (r"Therefore $x \geq 5$ is the solution.", "$x >= 5$", True), (r"$-2 \le x \le 7$", r"$x \in [-2,7]$", True),
    # extraction from whole solutions
    (r"We have $v = d/t = 120/2 = 60$, so the answer is \boxed{60}.", "60", True),
    ("The speed is 3.0 m/s.", "3.0 m/s", True),
]


@pytest.mark.parametrize("pred,gold,equal", TABLE)
def test_regression_table(pred: str, gold: str, equal: bool) -> None:
    v = verify_answer(pred, gold)
    assert v.ok is equal, (v.reason, v.message, v.details)
    assert v.verifier == "answer"


@pytest.mark.skipif(not DEV.exists(), reason="shared answer_equiv_dev.jsonl not present in this checkout")
def test_dev_set_has_no_false_accepts_on_negative_cases() -> None:
    cases = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    negatives = [c for c in cases if c["category"] in ("negative_cases", "science_units") and not c["equal"]]
    with ThreadPoolExecutor(4) as ex:
        verdicts = list(ex.map(lambda c: verify_answer(c["pred"], c["gold"]), negatives))
    accepted = [c["id"] for c, v in zip(negatives, verdicts) if v.ok]
    assert accepted == []


def test_reason_codes_and_details() -> None:
    v = verify_answer("5 W", "5 J")
    assert (v.ok, v.reason) == (False, "dimension_mismatch")
    v = verify_answer("2.49 kJ", "2500 J")
    assert v.reason == "unequal"
    assert v.details["pred_unit"] == "kJ" and v.details["gold_unit"] == "J"
    assert v.details["gold_value"] == 2500.0 and v.details["tolerance"] > 0
    assert verify_answer("", "3").reason == "no_answer"
    assert verify_answer(None, "3").reason == "no_answer"
    v = verify_answer("3.0 m/s", "300 cm/s")
    assert v.ok and v.reason == "equal" and v.score == 1.0
    assert {"pred_value", "gold_value", "tolerance", "tolerance_rule"} <= set(v.details)


@pytest.mark.parametrize("pred,gold", [("61", "60"), ("5 W", "5 J"), ("2.49 kJ", "2500 J"), ("(C)", "B"),
                                       ("x^2", "2x"), ("0.333 m", r"\frac{1}{3}\ \mathrm{m}"), ("12 km", "12 m")])
def test_message_never_contains_the_gold_and_gold_details_are_prefixed(pred: str, gold: str) -> None:
    v = verify_answer(pred, gold)
    assert not v.ok
    gold_core = gold.split()[0]
    assert gold_core not in v.message.replace(pred, "")
    for key, value in v.details.items():
        if not key.startswith("gold") and isinstance(value, str) and key != "pred_answer":
            assert value != gold, key


def test_every_rule_is_an_option() -> None:
    assert verify_answer("52 atm", "50.7 atm").ok is False
    assert verify_answer("52 atm", "50.7 atm", rel_tol=0.05).ok is True
    assert verify_answer("52 atm", "50.7 atm", preset="scibench").ok is True
    assert verify_answer("66.8 J/K", "67 J/K").ok is False
    assert verify_answer("66.8 J/K", "67 J/K", tolerance=0.05).ok is True  # per-problem: exact golds too
    assert verify_answer("66.8 J/K", "67 J/K", exact_golds=False).ok is True
    assert verify_answer("5 g", "5 kg", units=False).ok is True  # SciBench-style: units stripped
    assert verify_answer("3.0", "3.0 m/s", bare_number_in_gold_unit=False).reason == "dimension_mismatch"
    assert verify_answer("9.81 m/s^2", "9.81", ignore_pred_unit_if_gold_unitless=False).ok is False
    assert verify_answer("0.28", r"28\%", percent_as_fraction=False).ok is False
    assert verify_answer("B", "B", multiple_choice="off").ok is True  # identical text still matches
    assert verify_answer("The answer is (B)", "B", multiple_choice="off").ok is False
    assert verify_answer("2,74", "2.74", decimal_comma=False).ok is False
    assert verify_answer("2,74", "2.74").ok is True
    assert verify_answer("x^2-1", "(x-1)(x+1)", math_verify=False).ok is False


def test_choices_by_option_text() -> None:
    choices = ["helium", "neon", "argon", "krypton"]
    assert verify_answer("The answer is argon", "C", choices=choices).ok
    assert verify_answer("(C)", "argon", choices=choices).ok
    assert not verify_answer("(B)", "argon", choices=choices).ok


def test_unknown_option_and_bad_values_are_usage_errors() -> None:
    with pytest.raises(VerifierError):
        verify_answer("1", "1", no_such_rule=True)
    with pytest.raises(VerifierError):
        verify_answer("1", "1", preset="nope")
    with pytest.raises(VerifierError):
        verify_answer("1", "1", rel_tol=-1)


def test_threads_and_asyncio() -> None:
    pairs = [("3.0 m/s", "300 cm/s"), ("5 W", "5 J"), ("(B)", "B"), (r"\frac12", "0.5")] * 5
    with ThreadPoolExecutor(8) as ex:
        oks = list(ex.map(lambda p: verify_answer(*p).ok, pairs))
    assert oks == [True, False, True, True] * 5

    async def many() -> list[bool]:
        return [v.ok for v in await asyncio.gather(*(averify_answer(p, g) for p, g in pairs[:8]))]

    assert asyncio.run(many()) == [True, False, True, True] * 2


def _q(**kw: object) -> Question:
    base = {"id": "q1", "question": "How fast?", "answer": "60", "type": "numeric"}
    base.update(kw)
    return Question(**base)  # type: ignore[arg-type]


def test_verifier_uses_question_unit_tolerance_and_choices() -> None:
    v = AnswerVerifier()
    q = _q(answer="60", unit="m/s")
    assert v.verify(q, Attempt(stage="cot", solution=r"so $v = \boxed{216 \text{ km/h}}$")).ok
    assert not v.verify(q, Attempt(stage="cot", solution="so v = 61 m/s")).ok
    assert v.verify(_q(answer="60", tolerance=0.05), Attempt(stage="cot", solution="62")).ok
    mc = _q(type="multiple_choice", answer="B", choices=["1", "2", "3"])
    assert v.verify(mc, Attempt(stage="cot", solution="the answer is (B)")).ok
    assert v.verify(mc, Attempt(stage="cot", solution="x", extracted_answer="2")).ok


def test_registry_for_question_picks_verifiers_by_type_and_passes_options() -> None:
    reg = default_registry(plugins=False)
    assert {"answer", "steps", "lean"} <= set(reg.names())
    numeric = reg.for_question(_q(), names=None, options={"steps": {"require_steps": True}})
    assert [v.name for v in numeric] == ["answer", "steps"]
    assert numeric[1].required is True
    proof = reg.for_question(_q(type="proof", lean_statement="theorem t : 1 = 1 := sorry"), names=None)
    assert [v.name for v in proof] == ["lean"]
    # options meant for another verifier are ignored, not an error
    only = reg.for_question(_q(), names=["answer"], options={"answer": {"rel_tol": 0.05, "require_steps": True}})
    verdict = only[0].verify(_q(answer="9.81"), Attempt(stage="cot", solution="10"))
    assert verdict.ok and verdict.required


def test_values_in_the_references_unit_only_under_gold_keys() -> None:
    v = verify_answer("12 km", "12 m")
    visible = {k: val for k, val in v.details.items() if not k.startswith("gold")}
    assert 12000.0 not in visible.values() and "m" not in visible.values()
    assert v.details["gold_unit_pred_value"] == 12000.0 and visible["pred_value"] == 12.0


# Plain decimal numerals are compared in the main process; every other answer goes to the worker pool.
PLAIN = [("60", "60.0"), ("61", "60"), ("59.5", "60"), ("60.4", "60"), ("0.333", "0.3333"), ("-5", "5"),
         ("0", "0.0"), ("0.0000000000001", "0"), ("1", "3"), ("+2.50", "2.5"), ("33.3333333", "33.3333333333"),
         ("9" * 40, "9" * 40 + ".0"), ("12", "12.1"), ("12.1", "12"), (r"\boxed{7}", "7.00"), ("The answer is 8.", "8")]


@pytest.mark.parametrize("options", [{}, {"rel_tol": 0.05}, {"tolerance": 0.02}, {"exact_golds": False},
                                     {"preset": "scibench"}])
def test_plain_numbers_in_process_give_the_pools_verdict(options: dict) -> None:
    from scireflect.tools.verifiers.answer import _payload, _quick
    from scireflect.tools.verifiers.options import AnswerOptions
    from scireflect.tools.verifiers.pool import get_pool

    o = AnswerOptions.build(**options)
    for pred, gold in PLAIN:
        quick = _quick(pred, gold, o)
        assert quick is not None, (pred, gold)
        if quick.details.get("method") == "identical":
            continue
        res = get_pool().call("answer", _payload(pred, gold, o), timeout_s=10)
        assert res.ok, res.error
        got = quick.model_dump()
        assert got["details"].pop("elapsed_s") >= 0
        assert (got["ok"], got["reason"], got["message"], got["details"]) == (
            res.result["ok"], res.result["reason"], res.result["message"], res.result["details"]), (pred, gold)


@pytest.mark.parametrize("pred,gold", [("1e3", "1000"), ("3 m/s", "3"), ("3", "3 m/s"), ("1,000", "1000"),
                                       (r"\frac{1}{2}", "0.5"), ("2", "B"), ("9" * 41, "1"), ("x", "3"),
                                       ("−5", "-5"), ("5", "five")])
def test_anything_else_is_left_to_the_pool(pred: str, gold: str) -> None:
    from scireflect.tools.verifiers.answer import _quick
    from scireflect.tools.verifiers.options import AnswerOptions

    assert _quick(pred, gold, AnswerOptions.build()) is None
    assert _quick("3", "3.5", AnswerOptions.build(choices=["3", "3.5"])) is None


def test_quick_verify_falls_back_to_verify_and_graph_hops_to_a_thread_only_when_needed() -> None:
    import threading

    from scireflect.graph.context import GraphContext
    from scireflect.graph.nodes import verify
    from scireflect.schema import Verdict
    from scireflect.settings import Settings
    from scireflect.tools.verifiers import Verifier, VerifierRegistry

    threads: dict[str, str] = {}

    class Quick(Verifier):
        name = "quick"

        def quick_check(self, question: Question, attempt: Attempt) -> Verdict | None:
            return Verdict(verifier="", ok=True, reason="equal", message="decided at once")

        def check(self, question: Question, attempt: Attempt) -> Verdict:  # pragma: no cover - never reached
            raise AssertionError("check ran although quick_check decided")

    class Slow(Verifier):
        name = "slow"

        def quick_check(self, question: Question, attempt: Attempt) -> Verdict | None:
            raise RuntimeError("broken shortcut")  # undecided: check runs and decides

        def check(self, question: Question, attempt: Attempt) -> Verdict:
            threads["slow"] = threading.current_thread().name
            return Verdict(verifier="", ok=False, reason="unequal", message="checked in full")

    reg = VerifierRegistry()
    reg.register(Quick)
    reg.register(Slow)
    ctx = GraphContext(settings=Settings(provider="openai", base_url="http://127.0.0.1:1/v1"), models=[],
                       traces=None, registry=reg)
    state = {"question": _q(), "attempts": [Attempt(stage="cot", solution="60")], "round": 0, "max_rounds": 1}
    out = asyncio.run(verify(state, ctx))  # type: ignore[arg-type]
    verdicts = out.update["attempts"][0].verdicts
    assert [(v.verifier, v.ok, v.message) for v in verdicts] == [("quick", True, "decided at once"),
                                                                 ("slow", False, "checked in full")]
    assert threads["slow"] != threading.main_thread().name

    reg2 = VerifierRegistry()
    reg2.register(Quick)
    out = asyncio.run(verify(state, GraphContext(settings=ctx.settings, models=[], traces=None, registry=reg2)))
    assert out.update["attempts"][0].ok
