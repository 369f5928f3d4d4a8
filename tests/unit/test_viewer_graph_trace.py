"""The viewer on a trace the real graph wrote (fake chat model, real verifiers), not a hand-made one."""

from __future__ import annotations

import re

import pytest

from scireflect.schema import Question
from tests.conftest import fake_model

pytest.importorskip("fastapi", reason="the viewer needs the 'viewer' extra (fastapi)")

Q = Question(id="car1", question="A car travels $120\\,\\text{km}$ in $2\\,\\text{h}$. What is its average speed?",
             answer="60", unit="km/h", type="numeric", subject="physics")
WRONG = "The speed is $v = d/t$.\n$v = 120/2 = 50$ km/h\nThe answer is \\boxed{50 km/h}"
CRITIQUE = "Line 2 is wrong: 120/2 is 60, not 50."
RIGHT = "The speed is $v = d/t$.\n$v = 120/2 = 60$ km/h\nThe answer is \\boxed{60 km/h}"


def test_trace_page_of_a_graph_run(settings, stores):
    from starlette.testclient import TestClient

    from scireflect.graph.pipeline import Pipeline
    from scireflect.viewer.app import create_app

    pipe = Pipeline(settings, stores, models=[(fake_model(WRONG, CRITIQUE, RIGHT), None)], retriever=None, gate=None)
    trace = pipe.run(Q)
    assert trace.status == "accepted_reflection"
    client = TestClient(create_app(stores))

    html = client.get(f"/traces/{trace.id}").text
    nodes = re.findall(r'id="ev-\d+" data-node="(\w+)"', html)
    assert nodes == ["solve", "verify", "critique", "revise", "verify", "gate"]
    first_verify = html[html.index('id="ev-2"'):html.index('id="ev-3"')]
    wrong = re.findall(r'<li class="step st-wrong first-wrong">(.*?)</li>', first_verify, flags=re.S)
    assert len(wrong) == 1 and "120/2 = 50" in wrong[0] and "left side is 60, right side is 50" in wrong[0]
    assert "retrieval skipped" in html and "solver (first attempt) → reviser (round 1)" in html
    assert "<del>50</del>" in html and "<ins>60</ins>" in html

    listing = client.get("/?verdict=steps%3Aok&subject=physics").text
    assert f'href="/traces/{trace.id}"' in listing
    assert f'href="/traces/{trace.id}"' not in client.get("/?verdict=steps%3Afail").text
