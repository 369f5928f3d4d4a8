"""The steps verifier on real worked solutions: SciBench's 112 textbook solutions are correct derivations,
so no step may be marked wrong; with one number changed on a checked line, that line must be flagged.

The perturbation is the one ``bench/steps.py`` measures (the first changeable number on the right-hand
side of one checked claim, times 1.5), loaded from the bench script so both use the same definition."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from scireflect.tools.verifiers.steps import check_steps

SCIBENCH = Path(__file__).resolve().parents[2].parent / "shared" / "scibench"
BENCH = Path(__file__).resolve().parents[2] / "bench" / "steps.py"

pytestmark = pytest.mark.skipif(not SCIBENCH.is_dir() or not any(SCIBENCH.glob("*_sol.json")),
                                reason=f"SciBench worked solutions not found at {SCIBENCH}")

# Measured: 0 wrong steps, 87 of 112 solutions with a checked step, 84 of 87 perturbations flagged (0.966).
MIN_SOLUTIONS_CHECKED = 75  # everything unchecked would also give 0 wrong steps
MIN_DETECTION = 0.85


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_steps", BENCH)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_steps"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def checked() -> tuple[Any, list[tuple[str, str]], list[list[dict[str, Any]]]]:
    bench = _bench()
    sols = bench.load(SCIBENCH)
    return bench, sols, [check_steps(text).details["steps"] for _, text in sols]


def test_no_step_of_a_correct_worked_solution_is_wrong(checked) -> None:
    _, sols, steps = checked
    assert len(sols) == 112
    wrong = [f"{name} line {s['line']}: {s['text'][:120]} ({s.get('note')})"
             for (name, _), st in zip(sols, steps) for s in st if s["status"] == "wrong"]
    assert wrong == []
    with_checks = sum(any(s["status"] == "ok" for s in st) for st in steps)
    assert with_checks >= MIN_SOLUTIONS_CHECKED


def test_one_changed_number_is_flagged_on_its_line(checked) -> None:
    bench, sols, steps = checked
    rng = random.Random(0)
    perturbed, flagged, missed = 0, 0, []
    for (name, text), st in zip(sols, steps):
        options = [p for s in st if s["status"] == "ok" and (p := bench.perturb(text, s)) is not None]
        if not options:
            continue
        changed, line = rng.choice(options)
        perturbed += 1
        after = check_steps(changed).details["steps"]
        if any(s["status"] == "wrong" and s["line"] == line for s in after):
            flagged += 1
        else:
            missed.append(name)
    assert perturbed >= MIN_SOLUTIONS_CHECKED
    assert flagged / perturbed >= MIN_DETECTION, f"{flagged}/{perturbed} flagged; missed {missed}"
