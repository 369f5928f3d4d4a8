"""The gate's decision is the status everyone sees: ``gated_out`` from the gate node to the store, the
CLI, run counts, the viewer and the migration of traces stored before it; and the viewer's templates
print what they mean (no ``<built-in method ...>``, no raw LaTeX in previews)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scireflect.schema import ACCEPTED_STATUSES, TRACE_STATUSES, VERIFIED_STATUSES, Gate, Question, gated_status
from scireflect.viewer.samples import sample_trace, store_trace
from tests.conftest import fake_model

TEMPLATES = Path(__file__).resolve().parents[2] / "scireflect" / "viewer" / "templates"
Q = Question(id="s1", question="A car starts from rest and accelerates at $2.0\\,\\text{m/s}^2$ for 5 s. How far does "
             "it travel?", answer="25", unit="m", type="numeric", subject="physics")
GOOD = "d = (1/2) a t^2 = 0.5 * 2.0 * 5^2 = 25 m.\nThe answer is \\boxed{25 m}."


class GateByQuestion:
    """A quality gate that rejects the questions it is told to (the classifier's interface: ``decide``)."""

    version = "fake-1"

    def __init__(self, reject: set[str]):
        self.reject = reject

    def decide(self, trace: Any) -> Gate:
        if trace.question_id in self.reject:
            return Gate(score=0.12, decision="reject", classifier_version=self.version,
                        reason="score 0.120 < threshold 0.500; top features: copies_answer (+1.20)")
        return Gate(score=0.9, decision="pass", classifier_version=self.version, reason="score 0.900 >= threshold 0.500")


def _pipe(settings: Any, stores: Any, n: int, reject: set[str]) -> Any:
    from scireflect.graph.pipeline import Pipeline

    return Pipeline(settings, stores, models=[(fake_model(*[GOOD] * n), None)], retriever=None,
                    gate=GateByQuestion(reject))


def test_statuses_and_helpers() -> None:
    assert "gated_out" in TRACE_STATUSES and "running" in TRACE_STATUSES and "duplicate" in TRACE_STATUSES
    assert "gated_out" not in ACCEPTED_STATUSES and set(VERIFIED_STATUSES) == {*ACCEPTED_STATUSES, "gated_out"}
    assert gated_status("reflection", "reject") == "gated_out"
    assert gated_status("reflection", "pass") == gated_status("reflection", "skipped") == "accepted_reflection"


def test_gate_rejection_is_the_status_and_the_record_is_kept(settings: Any, stores: Any) -> None:
    trace = _pipe(settings, stores, 1, {"s1"}).run(Q)
    assert trace.status == "gated_out" and trace.stage == "cot"
    assert trace.reason == "verified on the first attempt; gate: reject (score 0.120 < threshold 0.500)"
    assert [e.node for e in trace.events] == ["solve", "verify", "gate"]
    rec = stores.records.get(trace.id)
    assert rec is not None and rec.gate_decision == "reject" and rec.provenance["status"] == "gated_out"
    assert list(stores.records.iter()) == []  # left out of exports by default, as gate-rejected records were
    assert stores.traces.count(status="gated_out") == 1 and stores.traces.count(status="accepted_cot") == 0
    assert stores.traces.status_counts() == {"gated_out": 1}


def test_batch_run_counts_and_cli_agree(settings: Any, stores: Any, home: Path) -> None:
    from scireflect.cli import app

    pipe = _pipe(settings, stores, 3, {"b2"})
    qs = [Q.model_copy(update={"id": f"b{i}"}) for i in range(3)]
    summary = asyncio.run(pipe.arun_batch(qs, pipe.start_run(None), concurrency=1, checkpoint=False))
    assert dict(summary.counts) == {"accepted_cot": 2, "gated_out": 1}
    assert stores.records.count(include_rejected=True) == 3 and stores.records.count() == 2  # written by the trace writer
    runner = CliRunner()
    shown = runner.invoke(app, ["runs", "show", summary.run.id, "--home", str(home)])
    assert shown.exit_code == 0, shown.output
    assert re.search(r"gated_out\s*│\s*1\b", shown.output) and re.search(r"accepted_cot\s*│\s*2\b", shown.output)
    listed = runner.invoke(app, ["traces", "list", "--status", "gated_out", "--json", "--home", str(home)])
    assert listed.exit_code == 0, listed.output
    assert '"question_id": "b2"' in listed.output and '"b0"' not in listed.output
    bad = runner.invoke(app, ["traces", "list", "--status", "gated", "--home", str(home)])
    assert bad.exit_code != 0 and "gated_out" in bad.output


def _to_revision(engine: Any, rev: str, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    from scireflect.store.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, rev)


def test_migration_moves_traces_stored_before_gated_out(tmp_path: Path) -> None:
    """A store written before this change (gate rejections kept accepted_*) reads as gated out after it."""
    from scireflect.schema import Run
    from scireflect.store import RecordStore, RunStore, TraceStore, open_stores
    from scireflect.store.db import make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    _to_revision(engine, "0004")
    traces, runs, records = TraceStore(engine), RunStore(engine), RecordStore(engine)
    run = runs.create(Run())
    old = [sample_trace(i, status=s, run_id=run.id, gate_score=g)
           for i, (s, g) in enumerate([("accepted_cot", 0.2), ("accepted_reflection", 0.3),
                                       ("accepted_reflection", 0.8), ("rejected", None)])]
    for t in old[:3]:
        t.status = {"cot": "accepted_cot", "reflection": "accepted_reflection"}[t.stage]  # as the old gate wrote
    for t in old:
        store_trace(type("S", (), {"traces": traces})(), t)
        records.add_from_trace(t)
    run.counts = {"accepted_cot": 1, "accepted_reflection": 2, "rejected": 1, "skipped": 0}
    runs.finish(run)
    assert traces.count(status="gated_out") == 0
    engine.dispose()

    stores = open_stores(url=url)  # migrates to the newest revision, as every command does
    try:
        assert stores.revision >= "0005"
        got = {t["question_id"]: (t["status"], t["stage"]) for t in stores.traces.list()}
        assert got == {"q00000": ("gated_out", "cot"), "q00001": ("gated_out", "reflection"),
                       "q00002": ("accepted_reflection", "reflection"), "q00003": ("rejected", "reflection")}
        assert stores.runs.get(run.id)["counts"] == {"gated_out": 2, "accepted_reflection": 1, "rejected": 1,
                                                     "skipped": 0}
        from sqlalchemy import select

        from scireflect.store.tables import records as rt
        with stores.engine.connect() as conn:
            rows = dict(conn.execute(select(rt.c.question_id, rt.c.status)).all())
        assert rows == {"q00000": "gated_out", "q00001": "gated_out", "q00002": "accepted_reflection"}
        assert stores.records.count() == 1  # exports still leave the gate-rejected ones out
        from scireflect.viewer.pages import Pages

        page = Pages(stores, verifiers=["answer", "steps"]).trace_list({"status": "gated_out"})
        assert page.status == 200 and page.html.count('<tr data-status="gated_out">') == 2
        _to_revision(stores.engine, "0004", down=True)  # and back, for a downgrade
        assert stores.traces.count(status="gated_out") == 0
        assert stores.runs.get(run.id)["counts"]["accepted_reflection"] == 2
    finally:
        stores.close()


# --- the templates ------------------------------------------------------------------------------

DICT_METHODS = ("values", "items", "keys", "get", "pop", "popitem", "update", "copy", "clear", "setdefault",
                "fromkeys", "count", "index")


def test_no_template_reads_a_dict_method_as_a_field() -> None:
    """``x.values`` in Jinja is ``dict.values`` before it is ``x["values"]``; only calls may use those names."""
    pattern = re.compile(r"\.(%s)\b(?!\s*\()" % "|".join(DICT_METHODS))
    hits = [f"{p.name}: {m.group(0)}" for p in TEMPLATES.glob("*.html")
            for m in pattern.finditer(" ".join(re.findall(r"{[{%].*?[%}]}", p.read_text(), flags=re.S)))]
    assert hits == []


def test_dict_keys_win_over_dict_methods() -> None:
    from scireflect.viewer.render import environment

    assert environment().from_string("{{ s.values }}|{{ s.items }}").render(s={"values": "v", "items": 3}) == "v|3"


def test_derivation_steps_print_their_values_not_a_method() -> None:
    from scireflect.viewer.render import render
    from scireflect.viewer.trace_view import trace_view

    html = render("trace.html", v=trace_view(sample_trace(2, status="accepted_reflection")), inline=None,
                  exported=False, css=(), js=())
    assert "built-in method" not in html and "&lt;built-in" not in html
    assert "left 60, right 60" in html  # the ok arithmetic step of the accepted attempt


def test_trace_page_shows_the_gate_state() -> None:
    from scireflect.viewer.render import render
    from scireflect.viewer.trace_view import trace_view

    def page(t: Any) -> str:
        return render("trace.html", v=trace_view(t), inline=None, exported=False, css=(), js=())

    gated = page(sample_trace(4, status="gated_out"))
    assert 'id="trace-status">gated_out<' in gated
    assert re.search(r'id="gate-state">quality gate: <span class="badge gate-reject">reject</span> · score '
                     r'0\.\d+ &lt; threshold 0\.500</p>', gated)
    assert "Gated out after reaching <strong>reviser (round 1)</strong>" in gated
    passed = page(sample_trace(4, status="accepted_cot"))
    assert '<span class="badge gate-pass">pass</span>' in passed and "Gated out" not in passed
    rejected = page(sample_trace(3, status="rejected"))
    assert 'id="gate-state">quality gate: <span class="badge gate-none">not reached</span>' in rejected
    assert 'id="gate-summary">not reached</dd>' in rejected


def test_list_page_shows_status_counts_and_gate(stores: Any) -> None:
    from scireflect.viewer.pages import Pages

    for i in range(10):
        store_trace(stores, sample_trace(i))
    store_trace(stores, sample_trace(50, status="gated_out"))
    pages = Pages(stores, verifiers=["answer", "steps"])
    html = pages.trace_list({}).html
    counts = stores.traces.status_counts()
    assert counts["gated_out"] >= 1 and list(counts) == [s for s in TRACE_STATUSES if s in counts]
    for status, n in counts.items():
        assert f'>{status} {n}</a>' in html
    assert html.count('<span class="badge gate-reject">reject</span>') == counts["gated_out"]
    assert '<option value="gated_out"' in html
    # the counts keep the other filters and swap the status
    sub = pages.trace_list({"subject": "physics", "status": "rejected"}).html
    assert 'href="/?subject=physics&amp;status=gated_out"' in sub or "gated_out" not in stores.traces.status_counts(
        subject="physics")


def test_previews_never_cut_inside_math_and_bare_latex_is_delimited() -> None:
    from scireflect.viewer.render import _preview, _tex

    text = "A car travels $120\\,\\text{km}$ in " + "$2\\,\\text{h}$ " * 20
    for n in range(20, 120, 7):
        cut = _preview(text, n)
        assert cut.count("$") % 2 == 0, cut
    assert _preview("short", 160) == "short"
    assert _tex("The answer is \\boxed{25 m}.") == "The answer is \\(\\boxed{25 m}\\)."
    assert _tex("$\\frac{1}{2}$ and \\frac{a}{b}") == "$\\frac{1}{2}$ and \\(\\frac{a}{b}\\)"
    assert _tex("\\[ \\boxed{x} \\]") == "\\[ \\boxed{x} \\]" and _tex("\\frac{1}{") == "\\frac{1}{"
    assert _tex("<b>\\sqrt{2}</b>") == "<b>\\(\\sqrt{2}\\)</b>"  # plain text still; the template escapes it


def test_every_status_has_help_and_a_colour() -> None:
    from scireflect.viewer.render import STATUS_HELP

    css = (TEMPLATES.parent / "static" / "viewer.css").read_text()
    assert set(STATUS_HELP) == set(TRACE_STATUSES)
    for s in TRACE_STATUSES:
        assert f".status-{s}" in css, s


@pytest.mark.parametrize("status", ["accepted_cot", "gated_out"])
def test_cycled_samples_follow_the_gate(status: str) -> None:
    traces = [sample_trace(i) for i in range(40)]
    assert any(t.status == status for t in traces)
    for t in traces:
        if t.gate.decision == "reject":
            assert t.status == "gated_out" and "gate: reject" in t.reason
