"""The solve/run/traces commands through typer's CliRunner, with a fake chat model behind them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from tests.conftest import fake_model

runner = CliRunner()
RIGHT = "v = d/t = 120/4 = 30\nThe answer is \\boxed{30 m/s}"


@pytest.fixture
def fake_llm(monkeypatch):
    """Every chat model the CLI builds answers RIGHT (a fresh fake per call)."""
    monkeypatch.setattr("scireflect.llm.chat_model", lambda settings, base_url=None: fake_model(*[RIGHT] * 50))


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = json.dumps({"id": "k1", "question": "A car travels 120 m in 4 s. Speed?", "answer": "30", "unit": "m/s",
                   "type": "numeric", "subject": "physics"})


def test_solve_prints_trace_id_and_outcome(home, fake_llm):
    res = runner.invoke(app, ["solve", "A car travels 120 m in 4 s. Speed?", "--answer", "30", "--unit", "m/s"])
    assert res.exit_code == 0, res.output
    assert "accepted_cot" in res.output and "trace t_" in res.output


def test_run_reports_bad_lines_and_runs_the_rest(home, fake_llm, tmp_path):
    f = write_jsonl(tmp_path / "q.jsonl", [
        GOOD,
        "{not json",
        json.dumps({"id": "k3", "answer": "1"}),
        json.dumps({"id": "k4", "question": "Q?"}),
        json.dumps({**json.loads(GOOD), "id": "k5", "question": "A cyclist covers 90 m in 3 s. Speed?"}),
    ])
    res = runner.invoke(app, ["run", str(f)])
    assert res.exit_code == 1
    out = res.output
    assert f"{f}:2: not valid JSON" in out
    assert f"{f}:3: missing required field 'question'" in out
    assert f"{f}:4: missing required field 'answer'" in out
    assert "Traceback" not in out
    listed = runner.invoke(app, ["traces", "list", "--json"])
    rows = json.loads(listed.output)
    assert sorted(r["question_id"] for r in rows) == ["k1", "k5"]
    assert {"id", "question_id", "status", "stage"} <= set(rows[0])
    assert all(r["status"] == "accepted_cot" and r["stage"] == "cot" for r in rows)


def test_run_all_good_exits_0_and_rerun_skips_finished(home, fake_llm, tmp_path):
    f = write_jsonl(tmp_path / "q.jsonl", [GOOD])
    assert runner.invoke(app, ["run", str(f)]).exit_code == 0
    res = runner.invoke(app, ["run", str(f), "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output)["counts"]["skipped"] == 1
    assert len(json.loads(runner.invoke(app, ["traces", "list", "--json"]).output)) == 1


def test_unreachable_openai_endpoint_is_one_line_exit_2(home, tmp_path):
    f = write_jsonl(tmp_path / "q.jsonl", [GOOD])
    url = "http://127.0.0.1:9/v1"
    res = runner.invoke(app, ["run", str(f), "--provider", "openai", "--base-url", url])
    assert res.exit_code == 2
    assert url in res.output and "Traceback" not in res.output
    assert len([ln for ln in res.output.strip().splitlines() if ln.strip()]) == 1


def test_bad_gguf_path_is_a_clear_error(home, tmp_path):
    res = runner.invoke(app, ["solve", "Q?", "--answer", "1", "--model", str(tmp_path / "missing.gguf")])
    assert res.exit_code == 2
    assert "missing.gguf" in res.output and "Traceback" not in res.output


def test_traces_show_and_export(home, fake_llm):
    runner.invoke(app, ["solve", "A car travels 120 m in 4 s. Speed?", "--answer", "30"])
    tid = json.loads(runner.invoke(app, ["traces", "list", "--json"]).output)[0]["id"]
    shown = runner.invoke(app, ["traces", "show", tid])
    assert shown.exit_code == 0
    for node in ("solve", "verify", "gate"):
        assert node in shown.output
    exported = json.loads(runner.invoke(app, ["traces", "export", tid]).output)
    assert exported["id"] == tid and [e["node"] for e in exported["events"]][:2] == ["solve", "verify"]
    assert exported["events"][0]["messages_in"][0]["role"] == "system"
    missing = runner.invoke(app, ["traces", "show", "t_doesnotexist"])
    assert missing.exit_code == 1 and "no trace" in missing.output


def test_runs_list_and_show(home, fake_llm, tmp_path):
    f = write_jsonl(tmp_path / "q.jsonl", [GOOD])
    run_id = json.loads(runner.invoke(app, ["run", str(f), "--json"]).output)["run_id"]
    rows = json.loads(runner.invoke(app, ["runs", "list", "--json"]).output)
    assert rows[0]["id"] == run_id and rows[0]["counts"]["accepted_cot"] == 1
    assert runner.invoke(app, ["runs", "show", run_id]).exit_code == 0


def test_missing_questions_file(home):
    res = runner.invoke(app, ["run", "nope.jsonl"])
    assert res.exit_code == 1 and "nope.jsonl" in res.output


def test_untrained_gate_is_announced_once(home, fake_llm, tmp_path):
    f = write_jsonl(tmp_path / "q.jsonl", [GOOD, json.dumps({**json.loads(GOOD), "id": "k9",
                                                             "question": "A train covers 300 m in 10 s. Speed?"})])
    res = runner.invoke(app, ["run", str(f)])
    assert res.exit_code == 0
    assert res.output.count("no quality classifier is trained") == 1


def test_a_run_that_fails_is_marked_failed_not_left_running(home, fake_llm, tmp_path, monkeypatch):
    from scireflect.settings import Settings
    from scireflect.store import open_stores

    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "a", "question": "What is 2 + 3?", "answer": "5", "type": "numeric"}\n')

    def broken(*args, **kwargs):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr("scireflect.graph.distributed.run_batch", broken)
    res = CliRunner().invoke(app, ["run", str(f)])
    assert res.exit_code != 0
    stores = open_stores(Settings())
    try:
        assert [r["status"] for r in stores.runs.list()] == ["failed"]
    finally:
        stores.close()


def test_a_question_changed_under_the_same_id_runs_again_with_a_note(home, fake_llm, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "a", "question": "What is 2 + 3?", "answer": "5", "type": "numeric"}\n')
    assert CliRunner().invoke(app, ["run", str(f)]).exit_code == 0
    f.write_text('{"id": "a", "question": "What is 2 + 4?", "answer": "6", "type": "numeric"}\n')
    res = CliRunner().invoke(app, ["run", str(f), "--json"])
    assert res.exit_code in (0, 1), res.output
    assert "1 question(s) changed under the same id" in res.output
    rows = json.loads(CliRunner().invoke(app, ["traces", "list", "--json"]).stdout)
    assert len([r for r in rows if r["question_id"] == "a"]) == 2  # the old trace stays, a new one ran
    again = CliRunner().invoke(app, ["run", str(f), "--json"])
    assert "changed under the same id" not in again.output  # now it is the stored question: skipped


def test_questions_that_ended_in_an_outage_are_retried_by_the_next_run(home, tmp_path, monkeypatch):
    from scireflect.errors import ProviderError
    from tests.conftest import FailingChatModel

    f = tmp_path / "q.jsonl"
    f.write_text(GOOD + "\n")
    down = ProviderError("model call failed at http://gpu1/v1: HTTP 503: unavailable", retryable=True)
    monkeypatch.setenv("SCIREFLECT_MAX_RETRIES", "0")
    monkeypatch.setattr("scireflect.llm.chat_model", lambda settings, base_url=None: FailingChatModel.make(down))
    res = CliRunner().invoke(app, ["run", str(f), "--json"])
    assert res.exit_code == 1  # errors remain
    skipped = CliRunner().invoke(app, ["run", str(f), "--no-retry-errors", "--json"])
    assert "nothing_to_do" in skipped.output
    monkeypatch.setattr("scireflect.llm.chat_model", lambda settings, base_url=None: fake_model(*[RIGHT] * 10))
    res = CliRunner().invoke(app, ["run", str(f), "--json"])
    assert res.exit_code == 0, res.output
    assert "ran again 1 question(s)" in res.output
    rows = json.loads(CliRunner().invoke(app, ["traces", "list", "--json"]).stdout)
    assert [(r["question_id"], r["status"]) for r in rows] == [("k1", "accepted_cot")]  # one trace, now accepted
