"""Realistic traces made without a model, for the viewer's tests, its benchmark and demos.

Each trace looks like one the graph writes: a retrieve event with textbook chunks, LLM events with
prompts and LaTeX, verify events whose ``steps`` verdict flags the first wrong derivation step, and
the gate's decision. ``payload`` is spliced into every model- and question-controlled text field,
which is how the tests check that hostile text is shown as text.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from scireflect.schema import Attempt, Event, Gate, Question, Trace, Verdict, gated_status

SUBJECTS = ("physics", "chemistry", "mathematics", "biology")
# The loop a trace took, by final status (node sequence after retrieve).
SHAPES: dict[str, list[str]] = {
    "accepted_cot": ["solve", "verify", "gate"],
    "accepted_reflection": ["solve", "verify", "critique", "revise", "verify", "gate"],
    "accepted_with_answer": ["solve", "verify", "critique", "revise", "verify", "critique", "revise", "verify",
                             "revise_with_answer", "verify", "gate"],
    "rejected": ["solve", "verify", "critique", "revise", "verify", "critique", "revise", "verify"],
    "error": ["solve"],
}
STATUSES = tuple(SHAPES)
STAGE_OF = {"accepted_cot": "cot", "accepted_reflection": "reflection", "accepted_with_answer": "with_answer"}

WRONG = ("A car covers $d = 120\\,\\text{km}$ in $t = 2\\,\\text{h}$.\n"
         "The average speed is $v = \\frac{d}{t}$.\n"
         "$v = \\frac{120}{2} = 50$\n"
         "So the car moves at $50\\,\\text{km/h}$.\n"
         "Final answer: 50 km/h")
RIGHT = ("A car covers $d = 120\\,\\text{km}$ in $t = 2\\,\\text{h}$.\n"
         "The average speed is $v = \\frac{d}{t}$.\n"
         "$v = \\frac{120}{2} = 60$\n"
         "So the car moves at $60\\,\\text{km/h}$, since $$v = \\frac{\\Delta x}{\\Delta t}.$$\n"
         "Final answer: 60 km/h")
CRITIQUE = ("Step 3 is wrong: $\\frac{120}{2}$ is not 50. Recompute the division and keep the units "
            "$\\text{km}/\\text{h}$ in the final line.")


def _question(i: int, payload: str) -> Question:
    subject = SUBJECTS[i % len(SUBJECTS)]
    return Question(id=f"q{i:05d}", subject=subject, type="numeric", answer="60", unit="km/h",
                    question=f"A car travels $120\\,\\text{{km}}$ in $2\\,\\text{{h}}$. What is its average speed "
                             f"$v = d/t$? (variant {i}, {subject}){payload}")


def _claim(line: int, lhs: str, rhs: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"line": line, "text": f"{lhs} = {rhs}", "lhs": lhs, "rhs": rhs, "status": status, **extra}


def _verdicts(ok: bool, payload: str) -> list[Verdict]:
    """The answer and steps verdicts, shaped as tools/verifiers writes them."""
    val = "60" if ok else "50"
    answer = Verdict(verifier="answer", ok=ok, score=1.0 if ok else 0.0, reason="equal" if ok else "unequal",
                     message=("60 km/h equals the reference" if ok else "50 km/h is not the reference") + payload,
                     details={"pred_answer": f"{val} km/h", "pred_value": float(val), "gold_value": 60.0,
                              "tolerance": 0.01})
    free = "not a closed numeric expression"
    arith = _claim(3, "\\frac{120}{2}", val, "ok" if ok else "wrong", lhs_value=60.0, rhs_value=float(val),
                   tolerance=1e-9, **({} if ok else {"note": "left side is 60, right side is 50"}))
    steps = [_claim(1, "d", "120\\,\\text{km}", "unchecked", note=free),
             _claim(2, "v", "\\frac{d}{t}", "unchecked", note=free),
             _claim(3, "v", "\\frac{120}{2}", "unchecked", note=free), arith]
    message = ("1 of 4 steps checked, all correct" if ok else
               f"step on line 3 is wrong: {arith['text']} (left side is 60, right side is 50){payload}")
    steps_v = Verdict(verifier="steps", ok=ok, score=1.0 if ok else 0.0, reason="equal" if ok else "unequal",
                      required=False, message=message,
                      details={"steps": steps, "first_wrong": None if ok else dict(arith), "checked": 1,
                               "wrong": 0 if ok else 1, "unchecked": 3})
    return [answer, steps_v]


def sample_trace(i: int = 0, *, status: str | None = None, payload: str = "", run_id: str | None = None,
                 created_at: datetime | None = None, gate_score: float | None = None) -> Trace:
    """Trace number ``i`` (deterministic); ``status`` picks the loop it took, by default it cycles.

    A verified trace ends as the gate decides, as the graph's gate node does: cycled ones whose score falls
    under 0.5 are ``gated_out``. An accepted ``status`` asked for by name passes the gate (unless
    ``gate_score`` says otherwise); ``status="gated_out"`` takes the reflection loop and fails the gate."""
    asked = status
    status = status or STATUSES[i % len(STATUSES)]
    if status == "gated_out":
        status = "accepted_reflection"
    q = _question(i, payload)
    created = created_at or datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i)
    trace = Trace(id=f"t_{i:06d}", question_id=q.id, question=q, run_id=run_id, pipeline_version="demo1",
                  status=status, model="smollm2-135m", provider="llamacpp", created_at=created,
                  finished_at=created + timedelta(seconds=30))
    if status == "error":
        trace.reason = "solve failed: ProviderError: connection refused" + payload
    elif status == "rejected":
        trace.reason = "not verified after 2 reflection round(s): answer=unequal"
    else:
        score = round(0.35 + ((i * 37 + i // 5 * 23) % 61) / 100, 2)  # about a quarter under 0.5, in every loop
        if asked == "gated_out":
            score = round(0.2 + (i * 37 % 29) / 100, 2)
        elif asked is not None and score < 0.5:
            score = round(score + 0.3, 2)
        score = gate_score if gate_score is not None else score
        decision = "pass" if score >= 0.5 else "reject"
        sign = ">=" if decision == "pass" else "<"
        trace.gate = Gate(score=score, decision=decision, classifier_version="clf-1",
                          reason=f"score {score:.3f} {sign} threshold 0.500")
        trace.status = gated_status(STAGE_OF[status], decision)  # type: ignore[assignment]
        trace.reason = f"verified; gate: {decision}" + (f" ({trace.gate.reason})" if decision == "reject" else "")
    _walk(trace, SHAPES[status], payload)
    return trace


_STAGE = {"solve": "cot", "revise": "reflection", "revise_with_answer": "with_answer"}


def _walk(trace: Trace, shape: list[str], payload: str) -> None:
    """Fill ``trace.events`` and ``trace.attempts`` along ``shape``; only an accepted trace's last attempt is right."""
    q = trace.question
    assert q is not None
    t = trace.created_at
    chunks = [{"id": f"mechanics.pdf#p{12 + k}-{k}", "source": "mechanics.pdf", "page": 12 + k,
               "section": "2.1 Average speed", "score": round(0.82 - 0.07 * k, 3),
               "text": f"The average speed is the distance divided by the time, $\\bar v = \\Delta x/\\Delta t$ "
                       f"(passage {k}; in water, $\\ce{{H2O}}$).{payload}"} for k in range(3)]
    evs = [Event(trace_id=trace.id, seq=1, node="retrieve", started_at=t, latency_ms=41.5,
                 output={"enabled": True, "query": q.question, "chunks": chunks})]
    total = sum(1 for n in shape if n in _STAGE)
    accepted = shape[-1] == "gate"
    attempts: list[Attempt] = []
    for node in shape:
        t += timedelta(seconds=2)
        seq = len(evs) + 1
        if node in _STAGE:
            right = accepted and len(attempts) + 1 == total
            text = (RIGHT if right else WRONG) + payload
            evs.append(_llm_event(trace, seq, node, t, q, chunks, text, right, payload, error=shape == ["solve"]))
            if shape == ["solve"]:
                continue  # a failed model call leaves no attempt
            attempts.append(Attempt(stage=_STAGE[node], round=len(attempts), solution=text,
                                    extracted_answer="60 km/h" if right else "50 km/h",
                                    critique=None if node == "solve" else CRITIQUE + payload,
                                    retrieved=[c["id"] for c in chunks]))
        elif node == "verify":
            a = attempts[-1]
            a.verdicts = _verdicts(a.extracted_answer == "60 km/h", payload)
            evs.append(Event(trace_id=trace.id, seq=seq, node="verify", started_at=t, latency_ms=12.0,
                             output={"ok": a.ok, "stage": a.stage, "round": a.round,
                                     "verdicts": [v.model_dump(mode="json") for v in a.verdicts]}))
        elif node == "critique":
            evs.append(Event(trace_id=trace.id, seq=seq, node="critique", started_at=t, latency_ms=950.0,
                             messages_in=[{"role": "user",
                                           "content": f"Find the first wrong step:\n{attempts[-1].solution}"}],
                             output={"text": CRITIQUE + payload}, tokens_in=280, tokens_out=60, model="smollm2-135m"))
        elif node == "gate":
            evs.append(Event(trace_id=trace.id, seq=seq, node="gate", started_at=t, latency_ms=3.2,
                             output=trace.gate.model_dump(mode="json")))
    trace.events, trace.attempts = evs, attempts
    trace.answer_shown = "revise_with_answer" in shape


def _llm_event(trace: Trace, seq: int, node: str, t: datetime, q: Question, chunks: list[dict[str, Any]],
               text: str, right: bool, payload: str, error: bool) -> Event:
    user = f"Question: {q.question}\nPassages:\n" + "\n".join(c["text"] for c in chunks)
    if node != "solve":
        user += f"\nPrevious attempt:\n{WRONG}{payload}\nCritique:\n{CRITIQUE}{payload}"
    if node == "revise_with_answer":
        user += f"\nReference answer: {q.gold}"
    return Event(trace_id=trace.id, seq=seq, node=node, started_at=t, latency_ms=1800.0 + 10 * seq,
                 messages_in=[{"role": "system", "content": "You solve science problems step by step."},
                              {"role": "user", "content": user}],
                 output=None if error else {"text": text, "extracted_answer": "60 km/h" if right else "50 km/h"},
                 tokens_in=310 + 5 * seq, tokens_out=0 if error else 120 + seq, model="smollm2-135m",
                 error="ProviderError: connection refused" if error else None)


def store_trace(stores: Any, trace: Trace) -> Trace:
    """Write ``trace`` through the TraceStore as the graph does: start, one event per node, finish."""
    events, status = list(trace.events), trace.status
    trace.events, trace.status = [], "running"
    stores.traces.start(trace)
    for ev in events:
        stores.traces.add_event(ev)
    trace.events, trace.status = events, status
    stores.traces.finish(trace)
    return trace
