"""Evaluation through real providers: the embedded SmolLM2 in-process (llama.cpp), a real llama.cpp
OpenAI-compatible server, and the scripted test server at concurrency with injected faults."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.evaluation.benchmarks import load_benchmark
from scireflect.llm import embedded_gguf

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_llamacpp_eval_and_resume(home):
    args = ["eval", "-b", "sciref-mini", "--limit", "2", "--max-tokens", "12", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    meta = json.loads(res.output)
    assert meta["backend"]["provider"] == "llamacpp" and meta["backend"]["model"] == "SmolLM2-135M-Instruct"
    assert meta["counts"] == {"items": 2, "scored": 2, "failed": 0} and meta["timing"]["generated"] == 2
    items = [json.loads(line) for line in (home / "eval" / meta["id"] / "items.jsonl").read_text().splitlines()]
    assert all(r["output"] and r["tokens_out"] > 0 and r["verdict"]["verifier"] == "answer" for r in items)
    again = json.loads(runner.invoke(app, args).output)
    assert again["id"] == meta["id"] and again["timing"]["generated"] == 0  # everything was already scored


def test_openai_provider_against_llama_cpp_server(home):
    from tests.integration.llama_server import llama_server

    with llama_server(embedded_gguf()) as url:
        res = runner.invoke(app, ["eval", "-b", "mmlu-mini", "--limit", "3", "--provider", "openai",
                                  "--model", "smollm2", "--base-url", url, "--concurrency", "3",
                                  "--max-tokens", "8", "--prompt", "direct", "--json"])
    assert res.exit_code == 0, res.output
    meta = json.loads(res.output)
    assert meta["counts"]["scored"] == 3 and meta["backend"]["endpoints"] == [url]


def test_scripted_server_known_accuracy_with_faults(home, tmp_path, settings):
    from scireflect.testing.openai_server import ServerProcess

    # The server answers right for "cot" questions and wrong for "rejected" ones.
    items = load_benchmark("sciref-mini", settings).items[:12]
    script = tmp_path / "script.jsonl"
    with script.open("w") as fh:
        for i, q in enumerate(items):
            fh.write(json.dumps({"question": q.question, "answer": q.answer, "unit": q.unit, "choices": q.choices,
                                 "outcome": "cot" if i % 3 else "rejected"}) + "\n")
    with ServerProcess("--script", str(script), latency_ms=20, fault_rate=0.3, faults="429,500", seed=1) as srv:
        res = runner.invoke(app, ["eval", "-b", "sciref-mini", "--limit", "12", "--provider", "openai",
                                  "--base-url", srv.url, "--concurrency", "8", "--json"],
                            env={"SCIREFLECT_MAX_RETRIES": "8", "SCIREFLECT_RETRY_BASE_S": "0.01",
                                 "SCIREFLECT_RETRY_MAX_S": "0.05"})
        stats = srv.stats()
    assert res.exit_code == 0, res.output
    meta = json.loads(res.output)
    assert meta["counts"] == {"items": 12, "scored": 12, "failed": 0}
    assert meta["summary"]["overall"]["correct"] == 8  # 8 "cot" items answered right, 4 wrong
    assert sum(v for k, v in stats.items() if k.startswith("fault")) > 0  # retries did happen
