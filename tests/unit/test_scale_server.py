"""The OpenAI-compatible test server: roles, scripted outcomes, faults, options (in-process ASGI)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi", reason="the test server needs FastAPI (the scale extra)")

from scireflect.agents import AnswerReviser, Critic, Reviser, Solver
from scireflect.schema import Attempt, Question
from scireflect.testing.openai_server import (ServerConfig, create_app, parse_faults, parse_mix, pick_outcome,
                                              role_of)
from scireflect.tools.extract import extract_answer

Q = Question(id="s1", question="A car travels 120 m in 4.0 s at constant speed. What is its speed?", answer="30",
             unit="m/s", type="numeric")


def script(tmp_path: Path, outcome: str) -> str:
    p = tmp_path / "script.jsonl"
    p.write_text(json.dumps(Q.model_dump(mode="json") | {"metadata": {"outcome": outcome}}) + "\n")
    return str(p)


def messages(agent: Any, **kw: Any) -> list[dict[str, str]]:
    role = {"system": "system", "human": "user"}
    return [{"role": role[m.type], "content": str(m.content)} for m in agent.messages(**kw)]


async def chat(cfg: ServerConfig, msgs: list[dict[str, str]], **extra: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(cfg))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        return await c.post("/v1/chat/completions", json={"model": "m", "messages": msgs, **extra})


def _answer(r: httpx.Response) -> str | None:
    return extract_answer(r.json()["choices"][0]["message"]["content"])


def test_roles_are_recognised_from_scireflects_prompts():
    att = Attempt(stage="cot", solution="x")
    assert role_of(messages(Solver(), question=Q)[0]["content"]) == "solver"
    assert role_of(messages(Critic(), question=Q, attempt=att)[0]["content"]) == "critic"
    assert role_of(messages(Reviser(), question=Q, attempt=att, critique="c")[0]["content"]) == "reviser"
    assert role_of(messages(AnswerReviser(), question=Q, attempt=att, critique="c")[0]["content"]) == \
        "reviser_with_answer"


@pytest.mark.parametrize("outcome,solver_right,reviser_right", [
    ("cot", True, False), ("reflection", False, True), ("with_answer", False, False), ("rejected", False, False)])
async def test_scripted_outcomes(tmp_path, outcome, solver_right, reviser_right):
    cfg = ServerConfig(script=script(tmp_path, outcome))
    att = Attempt(stage="cot", solution="x")
    solved = await chat(cfg, messages(Solver(), question=Q))
    revised = await chat(cfg, messages(Reviser(), question=Q, attempt=att, critique="c"))
    shown = await chat(cfg, messages(AnswerReviser(), question=Q, attempt=att, critique="c"))
    assert (_answer(solved) == "30 m/s") is solver_right
    assert (_answer(revised) == "30 m/s") is reviser_right
    assert (_answer(shown) == "30 m/s") is (outcome == "with_answer")
    usage = solved.json()["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0


async def test_unknown_question_gets_a_generic_answer_and_stream_works():
    r = await chat(ServerConfig(), [{"role": "user", "content": "Problem: what is love?"}])
    assert r.status_code == 200 and _answer(r) == "42"
    s = await chat(ServerConfig(), [{"role": "user", "content": "hi"}], stream=True)
    assert s.headers["content-type"].startswith("text/event-stream")
    assert s.text.rstrip().endswith("data: [DONE]") and '"usage"' in s.text


@pytest.mark.parametrize("kind,status", [("429", 429), ("500", 500), ("malformed", 200)])
async def test_injected_faults(kind, status):
    r = await chat(ServerConfig(fault_rate=1.0, faults=(kind,)), [{"role": "user", "content": "x"}])
    assert r.status_code == status
    if kind == "malformed":
        with pytest.raises(ValueError):
            r.json()


async def test_models_and_stats_endpoints():
    app = create_app(ServerConfig(fault_rate=0.5, faults=("500",), seed=3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/v1/models")).json()["data"][0]["id"] == "scripted"
        codes = [(await c.post("/v1/chat/completions", json={"messages": []})).status_code for _ in range(40)]
        stats = (await c.get("/stats")).json()
    assert stats["requests"] == 40 and stats["fault_500"] == codes.count(500)
    assert 5 < codes.count(500) < 35


def test_option_parsing():
    assert parse_mix("cot=3,reflection=1") == {"cot": 3.0, "reflection": 1.0}
    with pytest.raises(argparse.ArgumentTypeError):
        parse_mix("bogus=1")
    assert parse_faults("429,drop") == ("429", "drop")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_faults("teapot")
    mix = {"cot": 1.0, "rejected": 1.0}
    picks = {pick_outcome(f"question {i}", mix) for i in range(50)}
    assert picks == {"cot", "rejected"} and pick_outcome("same", mix) == pick_outcome("same", mix)
