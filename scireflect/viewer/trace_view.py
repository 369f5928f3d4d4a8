"""What the trace page shows, computed from a stored Trace: one view per event, the path, totals, diffs.

Plain data only; escaping is the template's job (Jinja autoescape), so nothing here builds HTML.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from scireflect.schema import VERIFIED_STATUSES, Trace
from scireflect.viewer.diagram import highlighted
from scireflect.viewer.diff import attempt_label, solution_diffs

AGENT = {"solve": "solver", "critique": "critic", "revise": "reviser", "revise_with_answer": "reviser, answer shown",
         "verify": "verifiers", "retrieve": "retriever", "gate": "quality gate"}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)


def _kind(node: str, out: Any) -> str:
    if not isinstance(out, dict):
        return "llm" if node in ("solve", "critique", "revise", "revise_with_answer") else "other"
    if "verdicts" in out:
        return "verify"
    if "chunks" in out:
        return "retrieve"
    if node == "gate":
        return "gate"
    if "text" in out:
        return "llm"
    return "other"


def _as_math(text: str) -> str:
    """A step's claim is bare LaTeX (``\\frac{120}{2} = 50``); wrap it so auto-render typesets it,
    unless it already carries its own delimiters."""
    if any(d in text for d in ("$", "\\(", "\\[")) or not text.strip():
        return text
    return f"\\({text}\\)"


def _first_wrong(steps: list[dict[str, Any]], fw: Any) -> int | None:
    """Index of the first wrong step. ``first_wrong`` may be the step itself (what the steps verifier
    stores), its line, or its index; without it, the first step whose status is wrong."""
    if isinstance(fw, dict):
        hit = next((i for i, s in enumerate(steps) if s == fw), None)
        if hit is None:
            keys = [k for k in ("line", "text", "lhs", "rhs") if k in fw]
            hit = next((i for i, s in enumerate(steps) if keys and all(s.get(k) == fw[k] for k in keys)), None)
        if hit is not None:
            return hit
    elif isinstance(fw, int) and not isinstance(fw, bool):
        hit = next((i for i, s in enumerate(steps) if s.get("line") == fw), None)
        if hit is None and 0 <= fw < len(steps):
            hit = fw
        if hit is not None:
            return hit
    return next((i for i, s in enumerate(steps) if s.get("status") == "wrong"), None)


def _steps(details: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps verifier's findings, each with its status, note and whether it is the first wrong one."""
    raw = details.get("steps")
    if not isinstance(raw, list):
        return []
    steps = [dict(s) if isinstance(s, dict) else {"text": str(s)} for s in raw]
    target = _first_wrong(steps, details.get("first_wrong"))
    out = []
    for i, s in enumerate(steps):
        text = str(s.get("text", ""))
        # "sides", not "values": a template's ``s.values`` would be the dict method (see render._Environment)
        sides = ""
        if all(isinstance(s.get(k), (int, float)) for k in ("lhs_value", "rhs_value")):
            sides = f"left {s['lhs_value']:.6g}, right {s['rhs_value']:.6g}"
        out.append({"line": s.get("line"), "text": text, "math": _as_math(text),
                    "status": str(s.get("status") or "unchecked"), "note": str(s.get("note") or s.get("reason") or ""),
                    "sides": sides, "first_wrong": i == target})
    return out


def _verdict(v: dict[str, Any]) -> dict[str, Any]:
    details = dict(v.get("details") or {})
    steps = _steps(details)
    rest = {k: val for k, val in details.items() if not (steps and k in ("steps", "first_wrong"))}
    return {"verifier": str(v.get("verifier", "?")), "ok": bool(v.get("ok")), "score": v.get("score"),
            "reason": str(v.get("reason", "")), "message": str(v.get("message") or ""),
            "required": bool(v.get("required", True)), "steps": steps,
            "details": _pretty(rest) if rest else ""}


def event_view(ev: Any) -> dict[str, Any]:
    out = ev.output
    kind = _kind(ev.node, out)
    view: dict[str, Any] = {
        "seq": ev.seq, "node": ev.node, "agent": AGENT.get(ev.node, ev.node), "kind": kind,
        "latency_ms": ev.latency_ms, "tokens_in": ev.tokens_in, "tokens_out": ev.tokens_out,
        "model": ev.model, "error": ev.error, "started_at": ev.started_at,
        "messages": [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
                     for m in ev.messages_in if isinstance(m, dict)],
        "text": None, "extracted_answer": None, "verify": None, "retrieve": None, "gate": None, "raw": None,
    }
    if kind == "llm" and isinstance(out, dict):
        view["text"] = str(out.get("text") or "")
        ans = out.get("extracted_answer")
        view["extracted_answer"] = None if ans is None else str(ans)
    elif kind == "verify":
        label = attempt_label(str(out.get("stage", "")), int(out.get("round") or 0)) if out.get("stage") else ""
        view["verify"] = {"ok": bool(out.get("ok")), "attempt": label,
                          "verdicts": [_verdict(v) for v in out.get("verdicts") or [] if isinstance(v, dict)]}
    elif kind == "retrieve":
        chunks = [{"id": str(c.get("id", "")), "source": str(c.get("source") or ""), "page": c.get("page"),
                   "section": c.get("section"), "score": c.get("score"), "text": str(c.get("text") or "")}
                  for c in out.get("chunks") or [] if isinstance(c, dict)]
        view["retrieve"] = {"enabled": bool(out.get("enabled", True)), "reason": str(out.get("reason") or ""),
                            "chunks": chunks}
    elif kind == "gate":
        view["gate"] = {k: out.get(k) for k in ("score", "decision", "classifier_version", "reason")}
    elif out is not None:
        view["raw"] = _pretty(out)
    return view


def node_totals(events: list[Any]) -> list[dict[str, Any]]:
    """Calls, latency and tokens per node, in the order nodes first ran."""
    acc: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for ev in events:
        row = acc.setdefault(ev.node, {"node": ev.node, "calls": 0, "latency_ms": 0.0, "tokens_in": 0,
                                       "tokens_out": 0})
        row["calls"] += 1
        row["latency_ms"] += ev.latency_ms
        row["tokens_in"] += ev.tokens_in
        row["tokens_out"] += ev.tokens_out
    return list(acc.values())


def trace_view(trace: Trace) -> dict[str, Any]:
    """Everything the trace template needs."""
    events = sorted(trace.events, key=lambda e: e.seq)
    path = [e.node for e in events]
    failed = {e.node for e in events if e.error}
    final = trace.attempts[-1] if trace.attempts else None
    return {
        "trace": trace, "question": trace.question, "events": [event_view(e) for e in events], "path": path,
        "mermaid": highlighted(path, finished=trace.status != "running", failed=failed),
        "diffs": solution_diffs(trace.attempts), "totals": node_totals(events),
        "latency_ms": sum(e.latency_ms for e in events), "tokens_in": sum(e.tokens_in for e in events),
        "tokens_out": sum(e.tokens_out for e in events), "final": final,
        "final_label": attempt_label(final.stage, final.round) if final else "",
        "gate": trace.gate,
        # a rejected or failed trace never reaches the gate; its Gate is the default "skipped" one
        "gate_reached": "gate" in path or trace.status in VERIFIED_STATUSES or bool(trace.gate.reason),
    }
