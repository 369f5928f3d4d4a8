"""The ``lean`` verifier: a Lean 4 proof checked against the problem's trusted theorem statement.

The statement comes from the question (``lean_statement``, ``lean_imports``), never from the model: only
the proof *body* is taken from the attempt and spliced after the trusted statement. ``#print axioms``
runs after it, so ``sorryAx`` and non-standard axioms are caught even when no message mentions them.
Verdict reasons: pass, lean_error, sorry, nonstandard_axiom, timeout, unavailable, no_answer, error.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from scireflect.schema import Attempt, Question, Verdict
from scireflect.tools.verifiers.base import Verifier
from scireflect.tools.verifiers.lean_backends import KiminaBackend, LeanDojoBackend, LeanResult, ReplBackend

NAME = "lean"
STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
TARGET = "scireflect_target"
# Commands that would let a proof bypass the kernel or smuggle in code; refused before Lean sees them.
_FORBIDDEN = re.compile(r"^\s*(?:axiom|opaque|unsafe|@\[(?:extern|implemented_by)|set_option\s+debug\.|"
                        r"#eval|#exit|run_cmd|run_elab|elab\b|macro\b|syntax\b|import\b)", re.M)
_CODE_BLOCK = re.compile(r"```(?:lean4?|Lean4?)?\s*\n(.*?)```", re.S)
_DECL = re.compile(r"^\s*(?:@\[[^\]]*\]\s*)?(?:private\s+|protected\s+)?(theorem|lemma|example)\b\s*([^\s:(\[{]*)",
                   re.M)
_AXIOMS = re.compile(r"depends on axioms:\s*\[([^\]]*)\]")


def statement_header(statement: str) -> tuple[str, str]:
    """(statement ending in ``:=``, theorem name). ``example`` statements get a name so axioms can be printed."""
    s = statement.strip()
    s = re.sub(r":=\s*(?:by\s+)?sorry\s*$", "", s).strip()
    s = re.sub(r":=\s*(?:by)?\s*$", "", s).strip()
    m = _DECL.search(s)
    if not m:
        raise ValueError("lean_statement has no theorem, lemma or example declaration")
    kind, name = m.group(1), m.group(2)
    if kind == "example" or not name:
        s = s[:m.start(1)] + f"theorem {TARGET}" + s[m.end(1):] if kind == "example" else s
        name = TARGET
    return s + " :=", name


def proof_body(solution: str, theorem_name: str) -> tuple[str, str]:
    """(helper declarations, proof body) from the model's text. The model's own statement is discarded:
    only what follows ``:=`` of its target declaration is kept."""
    blocks = _CODE_BLOCK.findall(solution)
    code = blocks[-1] if blocks else solution
    decls = list(_DECL.finditer(code))
    target = None
    for d in decls:
        if d.group(2) in (theorem_name, TARGET) or d.group(1) == "example" or theorem_name.endswith("." + d.group(2)):
            target = d
    if target is None:
        return "", code.strip()
    helpers = code[:target.start()]
    helpers = "\n".join(ln for ln in helpers.splitlines() if not ln.strip().startswith("import "))
    rest = code[target.end():]
    depth, i = 0, 0
    while i < len(rest):  # the ':=' that ends the signature, outside brackets
        c = rest[i]
        depth += c in "([{⟨"
        depth -= c in ")]}⟩"
        if depth == 0 and rest.startswith(":=", i):
            return helpers.strip(), rest[i + 2:].strip()
        i += 1
    return helpers.strip(), ""


def splice(statement: str, imports: list[str] | None, solution: str, allow_helpers: bool = True) -> dict[str, Any]:
    """The code to check: trusted statement + the model's proof body + ``#print axioms``."""
    header_stmt, name = statement_header(statement)
    helpers, body = proof_body(solution, name)
    if not body:
        raise LookupError("no proof found in the attempt")
    parts = []
    if helpers and allow_helpers:
        parts.append(helpers)
    parts.append(f"{header_stmt}\n{body}" if body.startswith("by") or "\n" in body else f"{header_stmt} {body}")
    parts.append(f"#print axioms {name}")
    code = "\n\n".join(parts)
    header = "\n".join(f"import {m}" for m in (imports or []))
    return {"code": code, "header": header, "name": name, "body": body, "helpers": helpers}


def classify(result: LeanResult, name: str) -> tuple[bool, str, str, dict[str, Any]]:
    """Map a backend result onto (ok, reason, message, details)."""
    if result.status != "ok":
        reason = {"timeout": "timeout", "unavailable": "unavailable"}.get(result.status, "error")
        return False, reason, result.error or result.status, {}
    resp = result.response
    messages = [m for m in resp.get("messages") or [] if isinstance(m, dict)]
    errors = [m for m in messages if m.get("severity") == "error"]
    details: dict[str, Any] = {"messages": [_message(m) for m in messages][:50]}
    axioms: list[str] = []
    for m in messages:
        found = _AXIOMS.search(str(m.get("data", "")))
        if found:
            axioms = [a.strip() for a in found.group(1).split(",") if a.strip()]
    details["axioms"] = axioms
    if errors:
        first = _message(errors[0])
        return False, "lean_error", f"Lean error at line {first.get('line', '?')}: {first['data'][:300]}", details
    sorries = resp.get("sorries") or []
    uses_sorry = any("declaration uses 'sorry'" in str(m.get("data", "")) for m in messages)
    if sorries or uses_sorry or "sorryAx" in axioms:
        details["sorries"] = [{"goal": s.get("goal", "")[:500], "pos": s.get("pos")} for s in sorries][:20]
        return False, "sorry", "the proof is incomplete (sorry)", details
    odd = sorted(set(axioms) - STANDARD_AXIOMS)
    if odd:
        return False, "nonstandard_axiom", f"the proof depends on non-standard axioms: {', '.join(odd)}", details
    return True, "pass", f"Lean accepted the proof of {name}", details


def _message(m: dict[str, Any]) -> dict[str, Any]:
    pos = m.get("pos") or {}
    return {"severity": m.get("severity"), "line": pos.get("line"), "column": pos.get("column"),
            "data": str(m.get("data", ""))[:2000]}


_SHARED: dict[tuple[Any, ...], Any] = {}
_SHARED_LOCK = threading.Lock()


def backend_for(options: dict[str, Any]) -> Any:
    """One shared backend per configuration, so REPL pools persist across attempts."""
    kind = options.get("backend") or os.environ.get("SCIREFLECT_LEAN_BACKEND", "repl")
    if kind == "kimina":
        url = options.get("kimina_url") or os.environ.get("SCIREFLECT_KIMINA_URL", "http://127.0.0.1:8000")
        key = ("kimina", url, options.get("kimina_api_key") or os.environ.get("SCIREFLECT_KIMINA_API_KEY"))
        factory: Any = lambda: KiminaBackend(url, key[2])  # noqa: E731
    elif kind == "leandojo":
        key, factory = ("leandojo",), LeanDojoBackend
    elif kind == "repl":
        cmd = options.get("repl_cmd") or os.environ.get("SCIREFLECT_LEAN_REPL", "lake env repl").split()
        project = options.get("project_dir") or os.environ.get("SCIREFLECT_LEAN_PROJECT")
        cfg = (int(options.get("max_repls", 2)), int(options.get("max_uses", 200)),
               float(options.get("max_mem_mb", 8192)))
        key = ("repl", tuple(cmd), project, *cfg)
        factory = lambda: ReplBackend(list(cmd), project, *cfg)  # noqa: E731
    else:
        raise ValueError(f"unknown lean backend {kind!r}: choose repl, kimina or leandojo")
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = factory()
        return _SHARED[key]


def check_proof(question: Question, solution: str, **options: Any) -> Verdict:
    """Check ``solution``'s proof of ``question.lean_statement``. Total: always a Verdict."""
    def verdict(ok: bool, reason: str, message: str, **details: Any) -> Verdict:
        return Verdict(verifier=NAME, ok=ok, score=1.0 if ok else 0.0, reason=reason, message=message,
                       details=details)

    if not question.lean_statement:
        return verdict(False, "error", "the question has no lean_statement")
    try:
        backend = backend_for(options)
    except ValueError as e:
        return verdict(False, "error", str(e))
    timeout = float(options.get("timeout_s", 60.0))
    try:
        job = splice(question.lean_statement, question.lean_imports, solution or "",
                     bool(options.get("allow_helpers", True)))
    except LookupError as e:
        return verdict(False, "no_answer", str(e))
    except ValueError as e:
        return verdict(False, "error", str(e))
    bad = _FORBIDDEN.search(job["helpers"] + "\n" + job["body"])
    if bad:
        return verdict(False, "lean_error", f"the proof uses a forbidden command: {bad.group(0).strip()}",
                       code=job["code"])
    if isinstance(backend, LeanDojoBackend):
        tactics = [t for t in re.sub(r"^by\b", "", job["body"]).splitlines() if t.strip()]
        result = backend.run_theorem(question.metadata, [t.strip() for t in tactics], timeout)
    else:
        result = backend.run(job["code"], job["header"], timeout)
    ok, reason, message, details = classify(result, job["name"])
    details.update(backend=getattr(backend, "name", "?"), elapsed_s=round(result.elapsed_s, 3), code=job["code"])
    return verdict(ok, reason, message, **details)


class LeanVerifier(Verifier):
    """Lean 4 proofs of ``proof`` questions against their trusted statement."""

    name = "lean"
    description = "Lean 4 proof against the trusted theorem statement (REPL, Kimina server or LeanDojo)"
    types = ("proof",)

    def check(self, question: Question, attempt: Attempt) -> Verdict:
        return check_proof(question, attempt.solution, **self.options)
