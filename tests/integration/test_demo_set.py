"""`make demo`'s question set (examples/demo.jsonl) and settings (DEMO_ENV in the Makefile).

The fast tests check the file and the settings; the slow one runs the demo as `make demo` does, on the embedded
SmolLM2-135M, and checks what the README promises: a trace accepted at each of the three stages.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from scireflect.dedup import find_duplicates
from scireflect.questions import load_questions
from scireflect.schema import Attempt
from scireflect.settings import Settings
from scireflect.tools.verifiers import default_registry
from scireflect.tools.verifiers.registry import options_from_settings

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo.jsonl"


def _demo_env() -> dict[str, str]:
    """The SCIREFLECT_* variables the Makefile's demo target sets."""
    text = (ROOT / "Makefile").read_text()
    m = re.search(r"^DEMO_ENV\s*:=\s*(.+)$", text, re.M)
    assert m, "the Makefile defines DEMO_ENV"
    pairs = dict(item.split("=", 1) for item in shlex.split(m.group(1)))
    assert "$(DEMO_ENV) $(BIN)/scireflect run examples/demo.jsonl --max-rounds 1" in text
    return pairs


def _demo_settings(monkeypatch: pytest.MonkeyPatch, home: Path) -> Settings:
    for k, v in _demo_env().items():
        monkeypatch.setenv(k, v)
    return Settings(home=home, max_rounds=1)


def test_demo_file_loads_without_errors_or_duplicates() -> None:
    loaded = load_questions(DEMO)
    assert loaded.errors == []
    qs = loaded.questions
    assert 6 <= len(qs) <= 12  # a first run of a couple of minutes on 2 cores
    assert len({q.id for q in qs}) == len(qs)
    assert find_duplicates(qs, threshold=Settings().dedup_threshold) == {}  # dedup would skip them


def test_demo_env_names_real_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = _demo_env()
    assert all(k.startswith("SCIREFLECT_") for k in env)
    fields = set(Settings.model_fields)
    assert {k.removeprefix("SCIREFLECT_").lower() for k in env} <= fields  # no typo silently ignored
    s = _demo_settings(monkeypatch, tmp_path)
    assert s.require_steps is True and s.max_tokens == 256 and s.seed == 0 and s.temperature == 0.2


def test_reference_answers_pass_and_wrong_answers_fail_the_demo_verifiers(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path) -> None:
    s = _demo_settings(monkeypatch, tmp_path)
    reg = default_registry(plugins=False)
    for q in load_questions(DEMO).questions:
        verifiers = reg.for_question(q, options=options_from_settings(s))
        assert verifiers, q.id
        right = f"The answer is \\boxed{{{q.gold}}}"
        wrong_value = "A" if q.answer == "D" else "D" if q.type == "multiple_choice" else str(int(q.answer) + 1)
        wrong = f"The answer is \\boxed{{{wrong_value}}}"
        for v in verifiers:
            ok = v.verify(q, Attempt(stage="cot", solution=right))
            assert ok.ok, (q.id, v.name, ok.reason, ok.message)
        assert not all(v.verify(q, Attempt(stage="cot", solution=wrong)).ok for v in verifiers), q.id


@pytest.mark.slow
@pytest.mark.integration
def test_demo_run_accepts_a_trace_at_each_stage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from scireflect.graph.pipeline import Pipeline
    from scireflect.store import open_stores

    s = _demo_settings(monkeypatch, tmp_path / "ws")
    stores = open_stores(s)
    pipe = Pipeline(s, stores)
    statuses = {}
    for q in load_questions(DEMO).questions:
        trace = stores.traces.get(pipe.run(q).id)
        statuses[q.id] = trace.status
        assert trace.status != "error", (q.id, trace.reason)
        if trace.status.startswith("accepted"):
            final = [e for e in trace.events if e.node == "verify"][-1]
            assert all(v["ok"] for v in final.output["verdicts"]), (q.id, final.output)  # steps included
    # Measured on 2 cores, three runs: 5 accepted_cot, 1 accepted_reflection, 2 accepted_with_answer, 2 rejected.
    assert {"accepted_cot", "accepted_reflection", "accepted_with_answer"} <= set(statuses.values()), statuses
