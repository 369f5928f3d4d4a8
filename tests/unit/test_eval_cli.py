"""``scireflect eval`` parses flags and delegates; bad input gets one line and the right exit code."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.evaluation.backends import Generation
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


class SlowBackend(FakeBackend):
    """Takes ``delay`` seconds per item and says so through ``activity()``, as a slow endpoint would."""

    def __init__(self, delay: float):
        super().__init__(lambda i, m: boxed("3.0"))
        self.delay, self.sent = delay, None

    def activity(self):
        import time

        from scireflect.evaluation.backends import Activity

        sent = self.sent
        return Activity(in_flight=1, oldest_s=time.monotonic() - sent) if sent else Activity()

    def run(self, jobs, on_done):
        import time

        for item_id, _ in jobs:
            self.sent = time.monotonic()
            time.sleep(self.delay)
            self.sent = None
            on_done(item_id, Generation(text=boxed("3.0")))


def test_progress_lines_on_stderr_without_a_terminal(home, monkeypatch):
    monkeypatch.setattr("scireflect.cli.eval_cmd.PLAIN_EVERY_S", 0.1)
    monkeypatch.setattr("scireflect.evaluation.runner.make_backend", lambda p, s, **kw: SlowBackend(0.35))
    res = runner.invoke(app, ["eval", "-b", "sciref-mini", "--limit", "2"])
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stderr.splitlines() if x.startswith("eval: ")]
    assert lines[0] == "eval: loading the benchmark and model" and lines[1] == "eval: 0/2 items (0%)"
    assert any("1 in flight, oldest" in x for x in lines)  # a call still waiting shows its wait
    assert any(x.startswith("eval: 1/2 items (50%)") and "ETA" in x for x in lines)
    assert lines[-1].startswith("eval: 2/2 items, done in")
    assert "eval:" not in res.stdout and "overall" in res.stdout


def test_json_stdout_stays_clean(home, monkeypatch):
    monkeypatch.setattr("scireflect.cli.eval_cmd.PLAIN_EVERY_S", 0.05)
    monkeypatch.setattr("scireflect.evaluation.runner.make_backend", lambda p, s, **kw: SlowBackend(0.1))
    res = runner.invoke(app, ["eval", "-b", "sciref-mini", "--limit", "2", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["counts"]["scored"] == 2
    assert "eval:" not in res.stderr  # without a terminal, --json prints the JSON only


def test_live_bar_on_a_terminal():
    import io
    import time

    from rich.console import Console

    from scireflect.cli.eval_cmd import EvalProgress
    from scireflect.evaluation.runner import Status

    out = io.StringIO()
    with EvalProgress(Console(file=out, force_terminal=True, width=100)) as shown:
        shown.update(Status(total=4, done=1, started=time.monotonic() - 2.0, backend=SlowBackend(0.0)))
        time.sleep(0.7)
    text = out.getvalue()
    assert "evaluating" in text and "1/4 items (25%)" in text and "ETA " in text


def test_threads_flag_reaches_the_backend(home, monkeypatch):
    seen = {}

    def make_backend(provider, settings, **kw):
        seen["threads"] = settings.n_threads
        return FakeBackend(lambda i, m: boxed("3.0"))

    monkeypatch.setattr("scireflect.evaluation.runner.make_backend", make_backend)
    res = runner.invoke(app, ["eval", "-b", "sciref-mini", "--limit", "1", "--provider", "hf", "--threads", "3"])
    assert res.exit_code == 0, res.output
    assert seen["threads"] == 3
    res = runner.invoke(app, ["eval", "-b", "sciref-mini", "--threads", "0"])
    assert res.exit_code == 2
