"""An OpenAI-compatible chat server for tests and benchmarks: scripted answers, fixed latency, injected faults.

Run it with ``python -m scireflect.testing.openai_server --port 8011 --latency-ms 200 --fault-rate 0.2
--script questions.jsonl`` (``--reasoning think|field`` to answer as a reasoning model, ``--truncate-rate`` to
stop replies inside their reasoning, ``--pass-rate`` for sampled solvers, ``n`` honoured or not with
``--n-mode``) and point ``scireflect run --provider openai --base-url http://127.0.0.1:8011/v1``
at it. It recognises scireflect's agents (solver, critic, reviser, reviser with the answer) by their system
prompts and the question by its text, and answers each question according to a scripted outcome, so a
run's results are deterministic whatever faults were injected on the way.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from scireflect.testing.process import free_port, wait_until_up
from scireflect.testing.process import stop as stop_process

OUTCOMES = ("cot", "reflection", "with_answer", "rejected")
FAULT_KINDS = ("429", "500", "hang", "malformed", "drop")
ROLES = ("solver", "critic", "reviser", "reviser_with_answer")

_PROBLEM = re.compile(r"Problem:\s*(.+?)(?:\n(?:Options:|Solve it step by step\.|Proposed solution:|"
                      r"Previous solution)|\Z)", re.S)
_GIVEN_ANSWER = re.compile(r"The correct final answer is:\s*(.+)")


def normalize(text: str) -> str:
    return " ".join(text.split()).lower()


@dataclass
class Entry:
    """One scripted question: its reference answer and how the run should end for it."""

    question: str
    answer: str
    outcome: str
    unit: str | None = None
    choices: list[str] | None = None
    replies: dict[str, str] = field(default_factory=dict)  # role -> fixed reply text, overrides the outcome
    pass_rate: float | None = None  # per-sample chance the solver is right (overrides the server's)


@dataclass
class ServerConfig:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    hang_s: float = 600.0
    seed: int = 0
    mix: dict[str, float] = field(default_factory=lambda: {"cot": 1.0})
    script: str | None = None
    model: str = "scripted"
    reasoning: str = "none"        # none | think (a <think> block before the answer) | field (reasoning_content)
    truncate_rate: float = 0.0     # probability that a reply stops inside its reasoning (finish_reason "length")
    pass_rate: float | None = None  # per-sample chance the solver is right (instead of the scripted outcome)
    n_mode: str = "honour"         # honour | ignore (always one choice) | fewer (half the choices asked for)


class Script:
    """Question text -> Entry. Outcomes not given in the script are drawn from ``mix`` by a hash of the
    question text, so they are stable across restarts of the server."""

    def __init__(self, entries: list[Entry], mix: dict[str, float]):
        self.by_text = {normalize(e.question): e for e in entries}
        self.mix = mix

    @classmethod
    def load(cls, path: str | Path | None, mix: dict[str, float]) -> "Script":
        entries: list[Entry] = []
        if path:
            for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    meta = d.get("metadata") or {}
                    text = d["question"]
                    outcome = d.get("outcome") or meta.get("outcome") or pick_outcome(text, mix)
                    if outcome not in OUTCOMES:
                        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
                    entries.append(Entry(question=text, answer=str(d.get("answer", "")), outcome=outcome,
                                         unit=d.get("unit"), choices=d.get("choices"),
                                         replies=dict(d.get("replies") or {}),
                                         pass_rate=_rate(d.get("pass_rate", meta.get("pass_rate")))))
                except (ValueError, KeyError, TypeError) as e:
                    raise SystemExit(f"{path}:{lineno}: bad script line: {e}") from None
        return cls(entries, mix)

    def find(self, user_text: str) -> Entry | None:
        m = _PROBLEM.search(user_text)
        if m:
            hit = self.by_text.get(normalize(m.group(1)))
            if hit is not None:
                return hit
        norm = normalize(user_text)
        if len(self.by_text) <= 2000:  # other prompt formats: a substring scan is fine for small scripts
            for key, e in self.by_text.items():
                if key in norm:
                    return e
        return None


def _rate(value: Any) -> float | None:
    if value is None:
        return None
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"pass_rate must be between 0 and 1, not {value!r}")
    return rate


def draw(*key: Any) -> float:
    """A number in [0, 1) fixed by ``key``: the same question and sample get the same dice on every run."""
    return int(hashlib.sha256(repr(key).encode()).hexdigest()[:12], 16) / float(1 << 48)


def pick_outcome(text: str, mix: dict[str, float]) -> str:
    total = sum(mix.values()) or 1.0
    x = int(hashlib.sha256(normalize(text).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF * total
    for outcome, weight in mix.items():
        x -= weight
        if x <= 0:
            return outcome
    return next(iter(mix))


def role_of(system: str) -> str:
    s = system.lower()
    if "strict reviewer" in s or "find the first mistake" in s:
        return "critic"
    if "given the correct final answer" in s:
        return "reviser_with_answer"
    if "revise" in s:
        return "reviser"
    return "solver"


def gold_text(e: Entry) -> str:
    if e.unit and e.unit.strip() and e.unit.strip() not in e.answer:
        return f"{e.answer} {e.unit.strip()}"
    return e.answer


def wrong_text(e: Entry) -> str:
    if e.choices:
        letters = "ABCDEFGHIJ"[:max(2, len(e.choices))]
        return next(c for c in letters if c != e.answer.strip().upper()[:1])
    try:
        value = float(e.answer.replace(",", ""))
        wrong = f"{value * 3 + 7:g}"
    except ValueError:
        wrong = "-1" if e.answer.strip() != "-1" else "-2"
    return f"{wrong} {e.unit}" if e.unit else wrong


def solution(answer: str, how: str) -> str:
    return (f"We identify the relevant principle and write the formula.\n{how}\n"
            f"Substituting the given values and computing carefully.\n"
            f"The answer is \\boxed{{{answer}}}")


def reply_for(role: str, entry: Entry | None, messages: list[dict[str, Any]], sample: int = 0,
              pass_rate: float | None = None, seed: Any = None) -> str:
    """The scripted reply of ``role`` for ``entry``; unknown questions get a generic (wrong-ish) solution.
    With a pass rate, sample ``sample`` of the solver is right with that probability (fixed dice)."""
    user = str(messages[-1].get("content", "")) if messages else ""
    if entry is not None and role in entry.replies:
        return entry.replies[role]
    rate = entry.pass_rate if entry is not None and entry.pass_rate is not None else pass_rate
    if entry is not None and role == "solver" and rate is not None:
        right = draw(normalize(entry.question), sample, seed) < rate
        return solution(gold_text(entry) if right else wrong_text(entry),
                        f"(solver sample {sample}, scripted pass rate {rate:g}.)")
    if role == "critic":
        return "The second step uses the wrong relation between the quantities; redo the substitution."
    if entry is None:
        if role == "reviser_with_answer":
            m = _GIVEN_ANSWER.search(user)
            return solution(m.group(1).strip() if m else "42", "Working towards the given answer.")
        return solution("42", "A generic scripted step.")
    right, wrong = gold_text(entry), wrong_text(entry)
    good = {"solver": entry.outcome == "cot", "reviser": entry.outcome == "reflection",
            "reviser_with_answer": entry.outcome == "with_answer"}[role]
    return solution(right if good else wrong, f"({role} step for a scripted {entry.outcome} outcome.)")


def reasoning_for(role: str, entry: Entry | None, reply: str) -> str:
    """A reasoning block for ``reply``. It considers the reference answer on the way even when the reply is
    wrong, so a test can check that nothing is ever taken from inside the reasoning."""
    guess = gold_text(entry) if entry is not None else "42"
    return (f"Okay, the {role} needs to work through this carefully.\n"
            f"First guess: maybe the answer is \\boxed{{{guess}}}? Let me check that against the data.\n"
            "Recomputing each step and keeping track of the units.\nNow I will write the final response.")


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


class Behaviour:
    """Shared state of one server process: script, fault dice, counters."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.script = Script.load(config.script, config.mix)
        self.rng = random.Random(config.seed)
        self.stats: Counter = Counter()

    def fault(self) -> str | None:
        if self.config.fault_rate > 0 and self.config.faults and self.rng.random() < self.config.fault_rate:
            return self.rng.choice(self.config.faults)
        return None

    def latency(self) -> float:
        c = self.config
        return max(0.0, c.latency_ms + (self.rng.uniform(-c.jitter_ms, c.jitter_ms) if c.jitter_ms else 0.0)) / 1000

    def choices_for(self, body: dict[str, Any]) -> int:
        """How many choices to return for a request asking for ``n`` (servers that ignore ``n``, or return
        fewer, are simulated with ``n_mode``)."""
        try:
            n = max(1, min(int(body.get("n") or 1), 64))
        except (TypeError, ValueError):
            n = 1
        if self.config.n_mode == "ignore":
            return 1
        if self.config.n_mode == "fewer":
            return max(1, n // 2)
        return n

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        msgs = [{"role": m.get("role"), "content": _content_text(m.get("content"))}
                for m in body.get("messages") or []]
        system = next((m["content"] for m in msgs if m["role"] == "system"), "")
        user = next((m["content"] for m in reversed(msgs) if m["role"] == "user"), "")
        role = role_of(system)
        entry = self.script.find(user)
        self.stats[f"role_{role}"] += 1
        n = self.choices_for(body)
        self.stats["choices"] += n
        choices, tout = [], 0
        for i in range(n):
            text = reply_for(role, entry, msgs, sample=i, pass_rate=self.config.pass_rate, seed=body.get("seed"))
            message, finish, used = self.with_reasoning(role, entry, text, user, i, body.get("seed"))
            choices.append({"index": i, "message": message, "finish_reason": finish, "logprobs": None})
            tout += used
        tin = sum(len(m["content"]) for m in msgs) // 4 + 1
        return {"id": "chatcmpl-" + hashlib.md5(repr(choices).encode()).hexdigest()[:12],
                "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model") or self.config.model, "choices": choices,
                "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout}}

    def with_reasoning(self, role: str, entry: Entry | None, text: str, user: str, sample: int,
                       seed: Any) -> tuple[dict[str, Any], str, int]:
        """(message, finish reason, completion tokens) of one choice, as a reasoning model sends it."""
        mode = self.config.reasoning
        if mode == "none":
            return {"role": "assistant", "content": text}, "stop", len(text) // 4 + 1
        thought = reasoning_for(role, entry, text)
        truncated = draw("truncate", normalize(user), sample, seed) < self.config.truncate_rate
        if truncated:
            self.stats["truncated"] += 1
            thought = thought[: max(1, len(thought) // 2)]
        used = (len(thought) + (0 if truncated else len(text))) // 4 + 1
        if mode == "think":
            content = f"<think>\n{thought}" + ("" if truncated else f"\n</think>\n\n{text}")
            return {"role": "assistant", "content": content}, "length" if truncated else "stop", used
        # vLLM with --reasoning-parser: the thinking in its own field, the final response as content
        return ({"role": "assistant", "content": None if truncated else text, "reasoning_content": thought},
                "length" if truncated else "stop", used)


def _stream_chunks(reply: dict[str, Any]) -> bytes:
    """The reply as server-sent events (``stream: true``): per choice its reasoning delta (if any), its
    content delta and its finish; usage in the last chunk."""
    base = {k: reply[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    parts = []
    for c in reply["choices"]:
        msg, i = c["message"], c["index"]
        if msg.get("reasoning_content"):
            parts.append(base | {"choices": [{"index": i, "delta": {"role": "assistant",
                                                                   "reasoning_content": msg["reasoning_content"]},
                                              "finish_reason": None}]})
        parts.append(base | {"choices": [{"index": i, "delta": {"role": "assistant", "content": msg["content"]},
                                          "finish_reason": None}]})
        parts.append(base | {"choices": [{"index": i, "delta": {}, "finish_reason": c["finish_reason"]}]})
    parts.append(base | {"choices": [], "usage": reply["usage"]})
    return b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in parts) + b"data: [DONE]\n\n"


def create_app(config: ServerConfig) -> Any:
    """The FastAPI app. The chat route is a plain ASGI handler: it is the benchmark's hot path, and it
    must be able to drop a connection half-way through a response."""
    from fastapi import FastAPI

    beh = Behaviour(config)
    app = FastAPI(title="scireflect test server", docs_url=None, redoc_url=None)
    app.state.behaviour = beh

    @app.get("/v1/models")
    async def models() -> Any:
        return {"object": "list", "data": [{"id": config.model, "object": "model", "owned_by": "scireflect"}]}

    @app.get("/stats")
    async def stats() -> Any:
        return dict(beh.stats)

    @app.get("/health")
    async def health() -> Any:
        return {"ok": True}

    fastapi_app = app

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/") in (
                "/v1/chat/completions", "/chat/completions"):
            await _chat(beh, receive, send)
            return
        await fastapi_app(scope, receive, send)

    asgi.state = app.state  # type: ignore[attr-defined]
    return asgi


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(chunks)


async def _send(send: Any, status: int, body: bytes, ctype: bytes = b"application/json",
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _error(message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": None}}).encode()


async def _chat(beh: Behaviour, receive: Any, send: Any) -> None:
    raw = await _read_body(receive)
    beh.stats["requests"] += 1
    try:
        body = orjson.loads(raw)
    except ValueError:
        await _send(send, 400, _error("request body is not JSON", "invalid_request_error"))
        return
    fault = beh.fault()
    if fault:
        beh.stats[f"fault_{fault}"] += 1
    if fault == "429":
        await _send(send, 429, _error("rate limited (injected)", "rate_limit_error"), extra=[(b"retry-after", b"0")])
        return
    if fault == "500":
        await _send(send, 500, _error("server error (injected)", "server_error"))
        return
    if fault == "hang":
        await asyncio.sleep(beh.config.hang_s)
        return
    await asyncio.sleep(beh.latency())
    reply = beh.answer(body)
    if fault == "malformed":
        await _send(send, 200, b'{"id": "chatcmpl-broken", "choices": [{"index": 0, "message": {"rol')
        return
    payload = _stream_chunks(reply) if body.get("stream") else orjson.dumps(reply)
    if fault == "drop":
        # announce the full length, send half, return: uvicorn closes the socket mid-response
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload[:len(payload) // 2], "more_body": True})
        return
    beh.stats["ok"] += 1
    await _send(send, 200, payload, b"text/event-stream" if body.get("stream") else b"application/json")


# --- running it -----------------------------------------------------------------------------

def parse_mix(text: str) -> dict[str, float]:
    """``cot=0.5,reflection=0.3,with_answer=0.1,rejected=0.1`` -> weights."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in OUTCOMES:
            raise argparse.ArgumentTypeError(f"unknown outcome {name!r}; choose from {', '.join(OUTCOMES)}")
        mix[name] = float(weight or 1)
    if not mix or sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("the mix needs at least one outcome with a positive weight")
    return mix


def parse_faults(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown fault kind {bad[0]!r}; choose from {', '.join(FAULT_KINDS)}")
    return kinds


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scireflect.testing.openai_server",
                                description="OpenAI-compatible test server: scripted answers, latency, faults.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8011)
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay of every answered call")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +- jitter on the latency")
    p.add_argument("--fault-rate", type=float, default=0.0, help="probability that a call gets a fault")
    p.add_argument("--faults", type=parse_faults, default=FAULT_KINDS,
                   help="fault kinds drawn uniformly: " + ",".join(FAULT_KINDS))
    p.add_argument("--hang-s", type=float, default=600.0, help="how long a 'hang' fault holds the call")
    p.add_argument("--script", default=None, help="questions JSONL: question, answer[, unit, choices, outcome]")
    p.add_argument("--mix", type=parse_mix, default={"cot": 1.0},
                   help="outcome weights for scripted questions without one, e.g. cot=0.7,reflection=0.3")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault dice")
    p.add_argument("--model", default="scripted", help="model name reported by /v1/models")
    p.add_argument("--reasoning", choices=("none", "think", "field"), default="none",
                   help="answer as a reasoning model: think = a <think> block before the answer; field = the "
                        "thinking in reasoning_content, as vLLM's --reasoning-parser sends it")
    p.add_argument("--truncate-rate", type=float, default=0.0,
                   help="probability that a reply stops inside its reasoning (finish_reason length)")
    p.add_argument("--pass-rate", type=float, default=None,
                   help="per-sample chance the solver is right (a script line's pass_rate overrides it)")
    p.add_argument("--n-mode", choices=("honour", "ignore", "fewer"), default="honour",
                   help="what to do with a request's n: honour it, ignore it (one choice), or return half")
    return p


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    for name in ("fault_rate", "truncate_rate", "pass_rate"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise SystemExit(f"--{name.replace('_', '-')} must be between 0 and 1")
    return ServerConfig(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, fault_rate=args.fault_rate,
                        faults=tuple(args.faults), hang_s=args.hang_s, seed=args.seed, mix=args.mix,
                        script=args.script, model=args.model, reasoning=args.reasoning,
                        truncate_rate=args.truncate_rate, pass_rate=args.pass_rate, n_mode=args.n_mode)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    args = build_parser().parse_args(argv)
    app = create_app(config_from_args(args))
    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    print(f"scireflect test server on http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="critical", access_log=False, loop=loop,
                timeout_graceful_shutdown=1, backlog=4096)


# --- for tests and benchmarks ----------------------------------------------------------------

class ServerProcess:
    """The server in a child process (``with ServerProcess(latency_ms=200) as srv: srv.url``)."""

    def __init__(self, *args: str, port: int | None = None, **options: Any):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items() if v is not None]
        self.cmd = [sys.executable, "-m", "scireflect.testing.openai_server", "--port", str(self.port),
                    *flags, *args]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_up(self.proc, self.url.removesuffix("/v1") + "/health", timeout, "test server")
        except RuntimeError:
            self.stop()
            raise
        return self

    def stats(self) -> dict[str, int]:
        import httpx

        return httpx.get(self.url.removesuffix("/v1") + "/stats", timeout=5.0).json()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


if __name__ == "__main__":
    main()
