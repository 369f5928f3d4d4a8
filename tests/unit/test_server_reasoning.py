"""The bundled test server answers as reasoning models and sampling endpoints do: a <think> block or vLLM's
reasoning_content field, replies cut off inside their reasoning, n choices (honoured, ignored or fewer), and
solver samples right with a scripted pass rate."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from scireflect.testing.openai_server import ServerConfig, build_parser, config_from_args, create_app
from scireflect.tools import verify_answer

QUESTION = "A car travels 120 m in 4.0 s at constant speed. What is its speed?"


def script(tmp_path: Path, **extra: Any) -> str:
    p = tmp_path / "script.jsonl"
    p.write_text(json.dumps({"question": QUESTION, "answer": "30", "unit": "m/s", "outcome": "rejected", **extra})
                 + "\n")
    return str(p)


async def chat(cfg: ServerConfig, **extra: Any) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=create_app(cfg))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.post("/v1/chat/completions", json={"model": "m", "messages": [
            {"role": "system", "content": "You are a careful solver."},
            {"role": "user", "content": f"Problem: {QUESTION}\nSolve it step by step."}], **extra})
        return r.json()


async def test_think_blocks_hold_the_reference_but_the_final_response_decides(tmp_path: Path) -> None:
    body = await chat(ServerConfig(script=script(tmp_path), reasoning="think"))
    content = body["choices"][0]["message"]["content"]
    assert content.startswith("<think>") and "</think>" in content and "\\boxed{30 m/s}" in content.split("</think>")[0]
    assert not verify_answer(content, "30 m/s").ok  # the scripted outcome is wrong; the think block is not graded


async def test_reasoning_field_as_vllm_sends_it(tmp_path: Path) -> None:
    body = await chat(ServerConfig(script=script(tmp_path, outcome="cot"), reasoning="field"))
    msg = body["choices"][0]["message"]
    assert "<think>" not in msg["content"] and msg["reasoning_content"].startswith("Okay")
    assert verify_answer(msg["content"], "30 m/s").ok


@pytest.mark.parametrize("mode", ["think", "field"])
async def test_truncated_replies_stop_inside_the_reasoning(tmp_path: Path, mode: str) -> None:
    body = await chat(ServerConfig(script=script(tmp_path, outcome="cot"), reasoning=mode, truncate_rate=1.0))
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    if mode == "think":
        assert "</think>" not in choice["message"]["content"]
        assert verify_answer(choice["message"]["content"], "30 m/s").reason == "truncated_reasoning"
    else:
        assert choice["message"]["content"] is None and choice["message"]["reasoning_content"]


@pytest.mark.parametrize("n_mode,asked,got", [("honour", 4, 4), ("ignore", 4, 1), ("fewer", 4, 2), ("honour", 1, 1)])
async def test_n_choices(tmp_path: Path, n_mode: str, asked: int, got: int) -> None:
    body = await chat(ServerConfig(script=script(tmp_path), n_mode=n_mode), n=asked)
    assert [c["index"] for c in body["choices"]] == list(range(got))


async def test_sampled_solvers_pass_at_the_scripted_rate(tmp_path: Path) -> None:
    rate, n = 0.3, 64
    body = await chat(ServerConfig(script=script(tmp_path, pass_rate=rate)), n=n, seed=7)
    right = sum(verify_answer(c["message"]["content"], "30 m/s").ok for c in body["choices"])
    sd = math.sqrt(n * rate * (1 - rate))
    assert abs(right - n * rate) <= 3 * sd, right
    again = await chat(ServerConfig(script=script(tmp_path, pass_rate=rate)), n=n, seed=7)
    assert again["choices"] == body["choices"]  # fixed dice: the same request gets the same samples


async def test_streaming_sends_reasoning_and_content_deltas(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=create_app(ServerConfig(script=script(tmp_path), reasoning="field")))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.post("/v1/chat/completions", json={"model": "m", "stream": True, "n": 2, "messages": [
            {"role": "user", "content": f"Problem: {QUESTION}"}]})
    events = [json.loads(x[6:]) for x in r.text.split("\n\n") if x.startswith("data: {")]
    deltas = [ch["delta"] for e in events for ch in e["choices"]]
    assert any("reasoning_content" in d for d in deltas) and any(d.get("content") for d in deltas)
    assert {ch["index"] for e in events for ch in e["choices"]} == {0, 1}


def test_bad_rates_are_one_line() -> None:
    with pytest.raises(SystemExit, match="--truncate-rate must be between 0 and 1"):
        config_from_args(build_parser().parse_args(["--truncate-rate", "2"]))
