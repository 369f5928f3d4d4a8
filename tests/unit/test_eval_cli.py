"""``scireflect eval`` parses flags and delegates; bad input gets one line and the right exit code."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from tests.unit.test_eval_runner import FakeBackend, boxed

runner = CliRunner()


@pytest.fixture
def fake(monkeypatch):
    made = {}

    def make_backend(provider, settings, *, concurrency=None, adapter=None):
        made.update(provider=provider, concurrency=concurrency, adapter=adapter, max_tokens=settings.max_tokens,
                    temperature=settings.temperature)
        return FakeBackend(lambda i, m: boxed("3.0"))

    monkeypatch.setattr("scireflect.evaluation.runner.make_backend", make_backend)
    return made


def test_eval_runs_and_prints_summary(home, fake):
    res = runner.invoke(app, ["eval", "--benchmark", "sciref-mini", "--limit", "3", "--provider", "hf",
                              "--concurrency", "2", "--max-tokens", "32"])
    assert res.exit_code == 0, res.output
    assert "physics" in res.output and "overall" in res.output and "95% CI" in res.output
    assert fake == {"provider": "hf", "concurrency": 2, "adapter": None, "max_tokens": 32, "temperature": 0.0}
    (run_dir,) = (home / "eval").iterdir()
    assert len((run_dir / "items.jsonl").read_text().splitlines()) == 3


def test_eval_json_output(home, fake):
    res = runner.invoke(app, ["eval", "-b", "mmlu-mini", "--limit", "2", "--json", "--shots", "1", "--prompt", "direct"])
    assert res.exit_code == 0, res.output
    meta = json.loads(res.output)
    assert meta["counts"]["scored"] == 2 and meta["prompt"]["shots"] == 1 and meta["prompt"]["style"] == "direct"


def test_malformed_lines_warn_and_exit_1(home, fake, tmp_path):
    f = tmp_path / "b.jsonl"
    f.write_text('{"id": "1", "question": "q", "answer": "3.0"}\n{"id": "2"}\n')
    res = runner.invoke(app, ["eval", "--benchmark", str(f)])
    assert res.exit_code == 1
    assert f"skipped: {f}:2: missing required field" in res.output.replace("\n", "")
    assert "overall" in res.output  # the good line was still evaluated


def test_unknown_benchmark_lists_names_and_exits_2(home, fake):
    res = runner.invoke(app, ["eval", "--benchmark", "nope"])
    assert res.exit_code == 2
    assert "unknown benchmark 'nope'" in res.output and "sciref-mini" in res.output
    assert "Traceback" not in res.output


def test_missing_benchmark_is_a_usage_error(home):
    res = runner.invoke(app, ["eval"])
    assert res.exit_code == 2 and "--benchmark" in res.output


def test_adapter_needs_hf(home, tmp_path):
    res = runner.invoke(app, ["eval", "-b", "sciref-mini", "--provider", "llamacpp", "--adapter", str(tmp_path)])
    assert res.exit_code == 2 and "--adapter needs --provider hf" in res.output


def test_unknown_provider_and_format(home):
    res = runner.invoke(app, ["eval", "-b", "sciref-mini", "--provider", "vllm"])
    assert res.exit_code == 2 and "unknown provider 'vllm'" in res.output
    res = runner.invoke(app, ["eval", "-b", "sciref-mini", "--format", "gsm8k"])
    assert res.exit_code == 2 and "unknown format 'gsm8k'" in res.output
