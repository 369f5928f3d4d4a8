"""The real embedded SmolLM2 through the whole graph, in-process and behind a real OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.graph.pipeline import Pipeline
from scireflect.llm import embedded_gguf
from scireflect.schema import Question
from scireflect.settings import Settings
from scireflect.store import open_stores

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

QUESTIONS = [
    Question(id="e1", question="What is 7 + 5?", answer="12", type="numeric", subject="math"),
    Question(id="e2", question="A car travels 120 m in 4.0 s at constant speed. What is its speed?",
             answer="30", unit="m/s", type="numeric", subject="physics"),
]
ALL_NODES = {"retrieve", "solve", "verify", "critique", "revise", "revise_with_answer", "gate"}


def _check_trace(trace, stores):
    stored = stores.traces.get(trace.id)
    assert stored.status in ("accepted_cot", "accepted_reflection", "accepted_with_answer", "rejected")
    names = [e.node for e in stored.events]
    assert names[:2] == ["solve", "verify"]  # no index: no retrieve step
    assert set(names) <= ALL_NODES
    assert [e.seq for e in stored.events] == list(range(1, len(names) + 1))
    for ev in stored.events:
        if ev.node in ("solve", "critique", "revise", "revise_with_answer"):
            assert ev.tokens_in > 0 and ev.tokens_out > 0 and ev.latency_ms > 0
            assert ev.model and ev.messages_in and ev.output["text"] is not None
    return stored


@pytest.mark.slow
def test_smollm2_through_the_graph(tmp_path):
    s = Settings(home=tmp_path / "ws", max_rounds=1, max_tokens=96)
    stores = open_stores(s)
    pipe = Pipeline(s, stores, retriever=None)
    out_tokens, seconds = 0, 0.0
    for q in QUESTIONS:
        stored = _check_trace(pipe.run(q), stores)
        gen = [e for e in stored.events if e.tokens_out]
        out_tokens += sum(e.tokens_out for e in gen)
        seconds += sum(e.latency_ms for e in gen) / 1000
    assert out_tokens / seconds > 1.0  # tokens/s inside the graph (reported by bench/e2e.py)


@pytest.mark.slow
def test_openai_provider_against_a_real_llama_cpp_server(tmp_path, monkeypatch):
    from tests.integration.llama_server import llama_server

    monkeypatch.chdir(tmp_path)
    with llama_server(embedded_gguf()) as url:
        home = tmp_path / "ws"
        res = CliRunner().invoke(app, ["solve", "What is 7 + 5?", "--answer", "12", "--provider", "openai",
                                       "--base-url", url, "--model", "smollm2", "--max-rounds", "0",
                                       "--home", str(home), "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        stores = open_stores(Settings(home=home))
        stored = _check_trace(stores.traces.get(out["id"]), stores)
        assert stored.provider == "openai"
