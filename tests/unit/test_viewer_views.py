"""Trace viewer, pure parts: the highlighted diagram, solution diffs, step findings, filters, templates."""

from __future__ import annotations

import pytest

from scireflect.viewer.diagram import graph_mermaid, graph_nodes, highlighted
from scireflect.viewer.diff import diff_rows, solution_diffs
from scireflect.viewer.samples import STATUSES, sample_trace, store_trace
from scireflect.viewer.trace_view import _steps, event_view, trace_view

XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def test_graph_mermaid_has_every_node_and_no_html_labels():
    text = graph_mermaid()
    assert {"retrieve", "solve", "verify", "critique", "revise", "revise_with_answer", "gate"} <= graph_nodes(text)
    assert "<p>" not in text


def test_highlight_marks_taken_edges_visits_and_failures():
    base = graph_mermaid()
    edges = [ln.strip() for ln in base.splitlines() if "->" in ln]
    out = highlighted(["retrieve", "solve", "verify", "critique", "revise", "verify", "gate"], finished=True)
    style = next(ln for ln in out.splitlines() if ln.strip().startswith("linkStyle"))
    taken = {edges[int(i)] for i in style.split()[1].split(",")}
    assert taken == {"__start__ -.-> retrieve;", "retrieve --> solve;", "solve -.-> verify;", "verify -.-> critique;",
                     "critique -.-> revise;", "revise -.-> verify;", "verify -.-> gate;", "gate --> __end__;"}
    assert 'verify("verify ×2")' in out
    assert "class __start__,retrieve,solve,verify,critique,revise,gate,__end__ taken" in out
    failed = highlighted(["retrieve", "solve"], finished=True, failed={"solve"})
    assert "class solve failed" in failed and "solve -.-> __end__" in failed


def test_highlight_ignores_nodes_outside_the_graph():
    out = highlighted(["retrieve", "evil<script>", "solve"], finished=False)
    assert "evil" not in out and "__end__ taken" not in out


def test_diff_rows_pair_changed_lines_with_word_marks():
    rows = diff_rows("a = 1\nkeep\nold only", "a = 2\nkeep\nnew one\nextra")
    kinds = [r.kind for r in rows]
    assert kinds == ["replace", "equal", "replace", "insert"]
    assert ("1", True) in rows[0].left and ("2", True) in rows[0].right
    assert rows[3].left == [] and rows[3].right == [("extra", True)]


def test_solution_diffs_follow_the_attempts():
    t = sample_trace(0, status="accepted_with_answer")
    diffs = solution_diffs(t.attempts)
    assert [d.after for d in diffs] == ["reviser (round 1)", "reviser (round 2)",
                                        "reviser with the answer shown (round 3)"]
    assert diffs[-1].added >= 1 and 0 < diffs[-1].similarity < 1


@pytest.mark.parametrize(("first_wrong", "marked"), [
    (3, 2),                              # the step's line
    (5, 3),                              # ... the second wrong step, not the fallback's first one
    ({"line": 3, "text": "c = 4"}, 2),   # the step itself
    ({"line": 5, "text": "d = 1"}, 3),
    (None, 2),                           # not given: the first step whose status is wrong
    (2, 1),                              # a line wins over an index
])
def test_first_wrong_step(first_wrong, marked):
    steps = [{"line": 1, "text": "a", "status": "ok"}, {"line": 2, "text": "b", "status": "unchecked"},
             {"line": 3, "text": "c = 4", "status": "wrong"}, {"line": 5, "text": "d = 1", "status": "wrong"}]
    flags = [s["first_wrong"] for s in _steps({"steps": steps, "first_wrong": first_wrong})]
    assert flags == [i == marked for i in range(4)]


def test_first_wrong_as_an_index_when_no_line_matches():
    marked = _steps({"steps": [{"text": "x", "status": "ok"}, {"text": "y", "status": "wrong"}], "first_wrong": 1})
    assert [s["first_wrong"] for s in marked] == [False, True]


def test_event_views_by_kind():
    t = sample_trace(0, status="accepted_reflection")
    kinds = [event_view(e)["kind"] for e in t.events]
    assert kinds == ["retrieve", "llm", "verify", "llm", "llm", "verify", "gate"]
    v = event_view(t.events[2])["verify"]
    assert v["ok"] is False and v["attempt"] == "solver (first attempt)"
    steps = next(x for x in v["verdicts"] if x["verifier"] == "steps")
    assert steps["required"] is False and sum(s["first_wrong"] for s in steps["steps"]) == 1
    odd = t.events[0].model_copy(update={"node": "custom", "output": {"anything": [1, 2]}})
    assert event_view(odd)["kind"] == "other" and '"anything"' in event_view(odd)["raw"]


def test_trace_view_totals_and_path():
    t = sample_trace(0, status="accepted_with_answer")
    v = trace_view(t)
    assert v["path"] == [e.node for e in t.events]
    by_node = {r["node"]: r for r in v["totals"]}
    assert by_node["verify"]["calls"] == 4 and by_node["revise"]["calls"] == 2
    assert v["tokens_in"] == sum(e.tokens_in for e in t.events)


def test_trace_template_escapes_every_stored_text():
    from scireflect.viewer.render import render

    t = sample_trace(1, status="accepted_with_answer", payload=XSS)
    t.events[1].messages_in.append({"role": XSS, "content": XSS})
    t.events[1].error = XSS
    html = render("trace.html", v=trace_view(t), inline=None, exported=False, css=(), js=())
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_every_status_renders():
    from scireflect.viewer.render import render

    for s in STATUSES:
        html = render("trace.html", v=trace_view(sample_trace(3, status=s)), inline=None, exported=False,
                      css=(), js=())
        assert f'id="trace-status">{s}<' in html


def test_store_verdict_filter_and_subjects(stores):
    for i in range(10):
        store_trace(stores, sample_trace(i))
    tr = stores.traces
    assert tr.count(verdict="steps:fail") == tr.count(status="rejected") == 2
    assert tr.count(verdict="answer:ok") == 6  # the accepted traces; error traces have no verdicts
    assert tr.count(verdict="answer:unequal") == 2
    assert tr.count(verdict="answer") == 0  # tokens match whole, never a prefix
    assert tr.count(verdict="%") == 0  # LIKE wildcards are escaped
    assert tr.subjects() == ["biology", "chemistry", "mathematics", "physics"]
    rows = tr.list(verdict="steps:fail", subject="physics")
    assert rows and all(r["subject"] == "physics" and " steps:fail " in r["verdicts"] for r in rows)
