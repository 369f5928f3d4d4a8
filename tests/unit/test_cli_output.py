"""What a person reads from the CLI: bracketed text survives Rich, ids are never cut or wrapped at 80
columns without a terminal, lists say when they are cut, help shows no <bool>/<list[str]> metavars,
`solve` shows its steps on stderr, and --json stays clean."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from scireflect.cli import app, common
from scireflect.schema import Chunk, Event, Question, Trace
from tests.conftest import fake_model

runner = CliRunner()
RIGHT = "v = d/t = 120/4 = 30\nThe answer is \\boxed{30 m/s}"
LONG_QID = "scibench-thermo-chapter-07-problem-0042-with-a-very-long-question-identifier"


@pytest.fixture(autouse=True)
def width_80(monkeypatch):
    """The CLI's consoles as a pipe or an 80-column terminal would have them, whatever runs the tests."""
    monkeypatch.setattr(common.console, "width", 80)
    monkeypatch.setattr(common.err_console, "width", 80)


@pytest.fixture
def fake_llm(monkeypatch):
    monkeypatch.setattr("scireflect.llm.chat_model", lambda settings, base_url=None: fake_model(*[RIGHT] * 50))


def _add_traces(stores: Any, n: int, qid: str = LONG_QID) -> list[Trace]:
    out = []
    for i in range(n):
        q = Question(id=f"{qid}-{i}", question="Speed [in m/s]?", answer="30")
        t = Trace(question_id=q.id, question=q, pipeline_version="v1", run_id="r_1")
        stores.traces.start(t)
        t.status, t.reason = "rejected", "not verified after 2 reflection round(s): answer=unequal [length]"
        stores.traces.finish(t)
        out.append(t)
    return out


# --- Rich markup ---------------------------------------------------------------------------------------
def test_verify_keeps_bracketed_dimensions():
    res = runner.invoke(app, ["verify", "--pred", "3 m", "--gold", "3 s"])
    assert res.exit_code == 1
    assert "'m' ([length])" in res.stdout and len(res.stdout.strip().splitlines()) == 1


def test_errors_keep_brackets(home, monkeypatch):
    from scireflect.errors import InputError

    def boom(*a: Any, **k: Any) -> Any:
        raise InputError("bad value [length] in [bold]x[/bold]")

    monkeypatch.setattr("scireflect.cli.traces_cmd._stores", boom)
    res = runner.invoke(app, ["traces", "show", "t_x"])
    assert res.exit_code == 1 and "bad value [length] in [bold]x[/bold]" in res.stderr


class _FakeRetriever:
    opened = 0

    def __init__(self) -> None:
        type(self).opened += 1
        self.queries: list[str] = []

    def warmup(self) -> None:
        pass

    def search(self, query: str, k: int, filters: Any = None, mode: str = "hybrid") -> list[Chunk]:
        self.queries.append(query)
        return [Chunk(id="abc123def4567890", text="PV = nRT [ideal gas]", source="chemistry/gas_laws.md",
                      page=None, section="The ideal gas law", subject="chemistry", score=0.0328)]


@pytest.fixture
def fake_retriever(monkeypatch):
    made: list[_FakeRetriever] = []

    def open_retriever(settings: Any, models: Any = None) -> _FakeRetriever:
        made.append(_FakeRetriever())
        return made[-1]

    monkeypatch.setattr("scireflect.tools.retrieval.open_retriever", open_retriever)
    return made


def test_search_keeps_the_subject_tag_and_bracketed_text(home, fake_retriever):
    res = runner.invoke(app, ["search", "ideal gas"])
    assert res.exit_code == 0, res.output
    assert "chemistry/gas_laws.md · The ideal gas law [chemistry]" in res.stdout
    assert "PV = nRT [ideal gas]" in res.stdout and "p.None" not in res.stdout


def test_search_runs_many_queries_on_one_retriever(home, fake_retriever):
    res = runner.invoke(app, ["search", "-", "--json"], input="ideal gas\nentropy\n\n  heat engines \n")
    assert res.exit_code == 0, res.output
    assert len(fake_retriever) == 1 and fake_retriever[0].queries == ["ideal gas", "entropy", "heat engines"]
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["query"] for r in rows] == ["ideal gas", "entropy", "heat engines"]
    shown = runner.invoke(app, ["search", "-"], input="ideal gas\nentropy\n")
    assert shown.stdout.count("query: ") == 2 and shown.stdout.count("[chemistry]") == 2
    assert rows[0]["chunks"][0]["subject"] == "chemistry"
    one = runner.invoke(app, ["search", "ideal gas", "--json"])
    assert json.loads(one.stdout)[0]["id"] == "abc123def4567890"  # one query: the list of chunks as before


def test_traces_show_prints_every_chunk_id_and_no_missing_page(home, stores):
    t = _add_traces(stores, 1, "q")[0]
    chunks = [{"id": cid, "source": "physics/energy.md", "page": page, "section": None, "score": 0.03}
              for cid, page in (("abc0001", None), ("0fe0002", 3), ("def0003", None))]
    stores.traces.add_event(Event(trace_id=t.id, seq=0, node="retrieve",
                                  output={"enabled": True, "query": "x", "chunks": chunks}))
    stores.traces.add_event(Event(trace_id=t.id, seq=0, node="verify", output={"ok": False, "verdicts": [
        {"verifier": "answer", "ok": False, "reason": "dimension_mismatch",
         "message": "the answer's unit 'm' ([length]) has a different physical dimension"}]}))
    res = runner.invoke(app, ["traces", "show", t.id])
    assert res.exit_code == 0, res.output
    for cid in ("[abc0001]", "[0fe0002]", "[def0003]"):
        assert cid in res.stdout
    assert "p.None" not in res.stdout and "physics/energy.md p.3" in res.stdout
    assert "([length])" in res.stdout and "Speed [in m/s]?" in res.stdout and "answer=unequal [length]" in res.stdout


# --- cut output ----------------------------------------------------------------------------------------
def test_traces_list_says_when_it_cuts_and_keeps_ids_whole(home, stores):
    made = _add_traces(stores, 5)
    res = runner.invoke(app, ["traces", "list", "--limit", "3"])
    assert res.exit_code == 0, res.output
    assert "showing 3 of 5 traces" in res.stdout
    lines = res.stdout.splitlines()
    for t in made[2:]:  # the newest three, each id and question id whole on one line
        assert any(t.id in ln and t.question_id in ln for ln in lines), res.stdout
    assert "[length]" in res.stdout
    whole = runner.invoke(app, ["traces", "list"])
    assert "showing" not in whole.stdout and all(t.id in whole.stdout for t in made)


def test_traces_list_json_stays_json_when_cut(home, stores):
    _add_traces(stores, 4)
    res = runner.invoke(app, ["traces", "list", "--limit", "2", "--json"])
    assert len(json.loads(res.stdout)) == 2
    assert "showing 2 of 4" in res.stderr


def test_runs_list_keeps_ids_whole(home, fake_llm, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"id": "k1", "question": "A car travels 120 m in 4 s. Speed?", "answer": "30",
                             "unit": "m/s"}) + "\n")
    run_id = json.loads(runner.invoke(app, ["run", str(f), "--json"]).stdout)["run_id"]
    res = runner.invoke(app, ["runs", "list"])
    assert res.exit_code == 0 and any(ln.startswith(run_id + " ") for ln in res.stdout.splitlines()), res.stdout


def test_eval_list_keeps_run_ids_whole(settings):
    from scireflect.evaluation.results import EvalStore

    long_id = "sciref-mini-llamacpp-smollm2-135m-instruct-q8_0-zeroshot0shot-1a2b3c4d5e6f"
    EvalStore(settings).write_meta(long_id, {"id": long_id, "status": "finished", "benchmark": {"name": "sciref-mini"},
                                             "backend": {"provider": "llamacpp", "model": "smollm2.gguf"}})
    res = runner.invoke(app, ["eval", "list"])
    assert res.exit_code == 0, res.output
    assert long_id in res.stdout


def test_print_rows_cuts_only_the_flexible_column_on_a_terminal():
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    term = Console(file=out, width=40, force_terminal=True, color_system=None)
    common.print_rows(["id", "reason"], [["t_0123456789abcdef", "x" * 60]], flex=1, out=term)
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("t_0123456789abcdef  ") and lines[1].endswith("…") and len(lines[1]) <= 40
    piped = StringIO()
    common.print_rows(["id", "reason"], [["t_0123456789abcdef", "x" * 60]], flex=1,
                      out=Console(file=piped, width=40))
    assert "x" * 60 in piped.getvalue()


# --- flags and help ------------------------------------------------------------------------------------
def test_version():
    from scireflect import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"scireflect {__version__}"


@pytest.mark.parametrize("cmd", [[], ["solve"], ["run"], ["verify"], ["search"], ["ingest"], ["traces", "list"],
                                 ["traces", "show"], ["runs", "list"], ["verifiers", "list"]])
def test_help_has_no_type_metavars_and_keeps_brackets(cmd):
    res = runner.invoke(app, [*cmd, "--help"], terminal_width=80)
    assert res.exit_code == 0, res.output
    # typer shows a positional list's type whatever its metavar ("PATH <list[Path]>" of ingest): options only
    options = res.stdout.split("Options:")[-1]
    assert not re.search(r"<bool>|<list\[", options), res.stdout
    if cmd in (["solve"], ["run"]):
        assert "[env: SCIREFLECT_HOME]" in res.stdout  # Rich help used to read it as markup and drop it
        for flag in ("--max-tokens", "--temperature", "--seed", "--verifier NAME", "--threads"):
            assert flag in res.stdout


def test_generation_flags_reach_the_run_settings(home, fake_llm, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"id": "k1", "question": "A car travels 120 m in 4 s. Speed?", "answer": "30",
                             "unit": "m/s"}) + "\n")
    res = runner.invoke(app, ["run", str(f), "--json", "--max-tokens", "77", "--temperature", "0", "--seed", "5",
                              "--verifier", "answer", "--verifier", "steps", "--verifier", "answer",
                              "--threads", "3"])
    assert res.exit_code == 0, res.output
    run = json.loads(runner.invoke(app, ["runs", "show", json.loads(res.stdout)["run_id"], "--json"]).stdout)
    s = run["settings"]
    assert (s["max_tokens"], s["temperature"], s["seed"], s["verifiers"], s["n_threads"]) == (
        77, 0.0, 5, ["answer", "steps"], 3)
    bad = runner.invoke(app, ["run", str(f), "--verifier", "no-such", "--rerun"])
    assert bad.exit_code == 2 and "unknown verifier 'no-such'" in bad.output


def test_threads_default_for_the_in_process_model(home, fake_llm, tmp_path):
    from scireflect.cli.run_cmd import _with_threads
    from scireflect.settings import Settings

    s = _with_threads(Settings(home=home), processes=1)
    assert s.n_threads is not None and s.n_threads >= 1
    assert _with_threads(Settings(home=home, n_threads=7), processes=4).n_threads == 7
    assert _with_threads(Settings(home=home, provider="openai", base_url="http://x/v1"), 1).n_threads is None


# --- silences ------------------------------------------------------------------------------------------
def test_solve_shows_each_step_on_stderr_and_json_stays_clean(home, fake_llm):
    res = runner.invoke(app, ["solve", "A car travels 120 m in 4 s. Speed?", "--answer", "30", "--unit", "m/s"])
    assert res.exit_code == 0, res.output
    steps = [ln.split()[0] for ln in res.stderr.splitlines() if ln.startswith("  ")]
    assert steps == ["solve", "verify", "gate"], res.stderr
    assert "answer: 30 m/s" in res.stderr and "verified" in res.stderr
    assert "trace t_" in res.stdout and "solve " not in res.stdout
    js = runner.invoke(app, ["solve", "A car travels 120 m in 4 s. Speed?", "--answer", "30", "--json"])
    assert json.loads(js.stdout)["status"] == "accepted_cot"


def test_step_view_plain_lines_and_a_slow_step(monkeypatch):
    from io import StringIO

    from rich.console import Console

    from scireflect.cli.run_cmd import _StepView

    out = StringIO()
    monkeypatch.setattr(_StepView, "PLAIN_EVERY_S", 0.05)
    view = _StepView(console=Console(file=out, width=80))
    with view:
        view.step("start", "critique")
        import time

        time.sleep(0.2)
        view.step("event", Event(trace_id="t", seq=1, node="critique", latency_ms=200, tokens_in=5, tokens_out=7))
    text = out.getvalue()
    assert "still running critique" in text and re.search(r"critique\s+0\.2 s\s+5->7 tok", text), text


# --- surprises -----------------------------------------------------------------------------------------
def test_noop_rerun_records_no_run(home, fake_llm, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"id": "k1", "question": "A car travels 120 m in 4 s. Speed?", "answer": "30"}) + "\n")
    assert runner.invoke(app, ["run", str(f)]).exit_code == 0
    again = runner.invoke(app, ["run", str(f)])
    assert again.exit_code == 0
    assert re.search(r"nothing to do: 1 question\(s\) already finished under pipeline version \w+", again.stdout)
    assert len(json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)) == 1
    forced = runner.invoke(app, ["run", str(f), "--rerun", "--json"])
    assert forced.exit_code == 0 and json.loads(forced.stdout)["run_id"]
    assert len(json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)) == 2


def test_plugin_verifiers_run_only_when_named(settings, stores, monkeypatch):
    from scireflect.graph.pipeline import Pipeline
    from scireflect.tools.verifiers.base import verifier
    from scireflect.tools.verifiers.registry import VerifierRegistry

    @verifier(name="always_no", types=("numeric", "free"))
    def always_no(question: Any, attempt: Any) -> Any:
        raise AssertionError("not called here")

    monkeypatch.setattr(VerifierRegistry, "load_entry_points",
                        lambda self: self.register(always_no, origin="plugin:test"))
    models = [(fake_model(RIGHT), None)]
    default = Pipeline(settings, stores, models=models, retriever=None, gate=None)
    assert "always_no" not in default.context.registry.names()
    named = Pipeline(settings.model_copy(update={"verifiers": ["answer", "always_no"]}), stores, models=models,
                     retriever=None, gate=None)
    assert "always_no" in named.context.registry.names()


def test_critic_hears_each_finding_once(settings):
    from scireflect.agents.critic import Critic, findings_for_critic
    from scireflect.schema import Attempt, Verdict

    q = Question(id="q", question="A car travels 120 m in 4 s. Speed?", answer="30", unit="m/s", type="numeric")
    wrong_step = {"status": "wrong", "line": 1, "text": "v = 120/4 = 40", "message": "120/4 is not 40"}
    a = Attempt(stage="cot", solution="v = 120/4 = 40\nThe answer is \\boxed{40 m/s}", verdicts=[
        Verdict(verifier="answer", ok=False, reason="unequal", message="40 != 30", required=True),
        Verdict(verifier="steps", ok=False, reason="unequal", message="1 wrong", details={"steps": [wrong_step]}),
        Verdict(verifier="none", ok=False, reason="unavailable", message="no required verifier applies")])
    assert findings_for_critic(a.verdicts, q) == ["the final answer is incorrect",
                                                  "line 1: `v = 120/4 = 40` 120/4 is not 40"]
    prompt = Critic().messages(question=q, attempt=a)[-1].content
    assert prompt.count("incorrect") == 1 and "not correct" not in prompt


def test_critique_drops_what_it_echoed_from_its_prompt(settings):
    import asyncio

    from scireflect.agents.critic import Critic
    from scireflect.schema import Attempt, Verdict

    q = Question(id="q", question="A car travels 120 m in 4 s. Speed?", answer="30", unit="m/s", type="numeric")
    a = Attempt(stage="cot", solution="v = 120/4 = 40\nThe answer is \\boxed{40 m/s}", verdicts=[
        Verdict(verifier="answer", ok=False, reason="unequal", message="40 != 30", required=True)])
    looping = ("The division is wrong: 120/4 is 30, not 40.\n\n"
               + "An automatic checker rejected this solution:\n- the final answer is incorrect\n\n" * 3
               + "The division is wrong: 120/4 is 30, not 40.\nRedo the division.")
    out = asyncio.run(Critic().arun(fake_model(looping), settings, question=q, attempt=a))
    assert out.text == "The division is wrong: 120/4 is 30, not 40.\n\nRedo the division."
    assert out.extra["raw_text"] == looping


def test_run_progress_shows_gated_out_and_a_stalled_endpoint() -> None:
    from scireflect.cli.run_cmd import _ProgressView

    view = _ProgressView(10, quiet=True)
    p = {"total": 10, "done": 2, "accepted": 1, "gated_out": 1, "tokens": 50}
    t = view.t0
    assert view.stalled_s(p, t + 1) is None
    assert view.stalled_s(p, t + 20) == pytest.approx(19)  # nothing moved since it was first seen
    assert view.stalled_s({**p, "tokens": 60}, t + 21) is None  # a reply came
    assert view.stalled_s({**p, "done": 10, "tokens": 60}, t + 60) is None  # finished
    view.update(p)
    assert "gated out 1" in view.progress.tasks[0].fields["tally"]
