"""The gate inside the graph: decisions land on the trace and on its training record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn", reason="scikit-learn is in the 'classifier' extra")

from scireflect.graph.pipeline import Pipeline  # noqa: E402
from scireflect.schema import Question  # noqa: E402
from tests.conftest import fake_model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
Q = Question(id="g1", question="A car starts from rest and accelerates uniformly at 2.0 m/s^2 for 5 s. How far does "
             "it travel?", answer="25", unit="m", type="numeric", subject="physics", source="test")
GOOD = ("The car starts from rest, so v_0 = 0 and d = v_0 t + (1/2) a t^2 = (1/2) a t^2.\n"
        "Substituting a = 2.0 m/s^2 and t = 5 s: d = 0.5 * 2.0 * 5^2 = 0.5 * 2.0 * 25.\nd = 25 m.\n"
        "The answer is \\boxed{25 m}.")
COPIED = "The reference answer is 25 m, so the distance is 25 m.\nThe answer is \\boxed{25 m}."


@pytest.fixture(scope="module")
def gate() -> Any:
    from scireflect.training.classifier import train
    from scireflect.training.gate import QualityGate
    from scireflect.training.labels import load_labels

    ex = load_labels(REPO / "examples" / "quality_labels.jsonl")
    keep = sorted({e.group for e in ex})[:10]
    return QualityGate(train([e for e in ex if e.group in keep], folds=3))


def _run(settings: Any, stores: Any, text: str, gate: Any, qid: str) -> Any:
    pipe = Pipeline(settings, stores, models=[(fake_model(text), None)], retriever=None, gate=gate)
    return pipe.run(Q.model_copy(update={"id": qid}))


def test_trained_gate_passes_good_and_rejects_copied_and_keeps_both(settings: Any, stores: Any, gate: Any) -> None:
    good = _run(settings, stores, GOOD, gate, "g-good")
    bad = _run(settings, stores, COPIED, gate, "g-copied")
    assert good.status == "accepted_cot" and bad.status == "gated_out"  # the gate's decision is the status
    assert good.gate.decision == "pass" and bad.gate.decision == "reject"
    assert "verified on the first attempt; gate: reject (score" in bad.reason  # the stage it reached
    assert bad.gate.classifier_version == gate.version and "threshold" in bad.gate.reason
    assert stores.records.get(bad.id).gate_decision == "reject"  # kept, with the reason
    assert stores.records.count(include_rejected=True) == 2
    assert [r.trace_id for r in stores.records.iter()] == [good.id]  # exports leave the rejected one out


def test_untrained_gate_passes_everything_and_says_so(settings: Any, stores: Any) -> None:
    trace = _run(settings, stores, COPIED, "auto", "g-auto")
    assert trace.gate.decision == "pass" and trace.gate.classifier_version is None
    assert "no classifier is trained" in trace.gate.reason
    assert stores.records.get(trace.id).gate_decision == "pass"
