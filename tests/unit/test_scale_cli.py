"""`scireflect run` at scale and `scireflect runs` through CliRunner, with the in-process scripted model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.errors import ProviderError
from scireflect.llm_http import HttpChatModel
from tests.scale_support import ScriptedModel, make_questions, write_questions

runner = CliRunner()


@pytest.fixture
def scripted(monkeypatch):
    qs = make_questions(8)
    monkeypatch.setattr("scireflect.llm.chat_model", lambda settings, base_url=None: ScriptedModel(questions=qs))
    return qs


def test_run_with_concurrency_dedup_and_accounting(home, scripted, tmp_path):
    dup = scripted[0].model_copy(update={"id": "again", "question": scripted[0].question + " "})
    f = write_questions(tmp_path / "q.jsonl", [*scripted, dup])
    res = runner.invoke(app, ["run", str(f), "-c", "4", "--json", "--no-retrieval"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["status"] == "finished"
    assert out["counts"]["duplicate"] == 1 and out["counts"]["accepted_cot"] == 2
    assert set(out["tokens"]) == {"solver", "critic", "reviser"}
    shown = runner.invoke(app, ["runs", "show", out["run_id"]])
    assert shown.exit_code == 0 and "questions/min" in shown.output and "duplicate" in shown.output
    listed = json.loads(runner.invoke(app, ["runs", "list", "--json"]).output)
    assert listed[0]["id"] == out["run_id"]
    again = json.loads(runner.invoke(app, ["run", str(f), "--json", "--no-retrieval"]).output)
    assert again["counts"]["skipped"] == 9


def test_no_dedup_runs_every_question(home, scripted, tmp_path):
    f = write_questions(tmp_path / "q.jsonl", [scripted[0], scripted[0].model_copy(update={"id": "again"})])
    out = json.loads(runner.invoke(app, ["run", str(f), "--json", "--no-dedup", "--no-retrieval"]).output)
    assert "duplicate" not in out["counts"] and out["counts"]["accepted_cot"] == 2


def test_unknown_engine_is_a_usage_error(home, scripted, tmp_path):
    f = write_questions(tmp_path / "q.jsonl", scripted[:1])
    res = runner.invoke(app, ["run", str(f), "--engine", "spark"])
    assert res.exit_code == 2 and "spark" in res.output


def test_http_model_maps_statuses_to_retryable_errors():
    m = HttpChatModel(base_url="http://127.0.0.1:9/v1")
    for status, retry in ((429, True), (503, True), (400, False), (401, False)):
        with pytest.raises(ProviderError) as e:
            m._result(status, b'{"error": "x"}')
        assert e.value.retryable is retry and e.value.status == status
    with pytest.raises(ProviderError) as e:
        m._result(200, b'{"choices": [{"message": ')
    assert e.value.retryable and "malformed" in str(e.value)
    ok = m._result(200, json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).encode())
    assert ok.generations[0].message.usage_metadata["input_tokens"] == 3
