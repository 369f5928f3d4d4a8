"""The ``lean`` verifier against a scripted REPL (``verifiers_fake_lean_repl.py``) speaking the
leanprover-community REPL protocol, and against a local stand-in Kimina server. Real Lean is only used
where ``lake`` is on PATH."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scireflect.schema import Attempt, Question
from scireflect.tools.verifiers import default_registry
from scireflect.tools.verifiers.lean import LeanVerifier, check_proof, proof_body, splice, statement_header

FAKE = Path(__file__).with_name("verifiers_fake_lean_repl.py")
STATEMENT = "theorem add_two (n : Nat) : n + 2 = n + 1 + 1 := by sorry"
_ids = itertools.count()


@pytest.fixture
def repl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Configure a fresh fake REPL pool: ``repl(rules, **options) -> options`` for check_proof."""
    log = tmp_path / "repl.log"
    monkeypatch.setenv("FAKE_REPL_LOG", str(log))

    def make(rules: list[dict[str, Any]] | None = None, **options: Any) -> dict[str, Any]:
        script = tmp_path / f"rules{next(_ids)}.json"
        script.write_text(json.dumps(rules or []))
        monkeypatch.setenv("FAKE_REPL_SCRIPT", str(script))
        # a unique (ignored) argument gives each test its own backend pool
        opts = {"backend": "repl", "repl_cmd": [sys.executable, str(FAKE), f"--id={next(_ids)}"], "timeout_s": 10}
        opts.update(options)
        return opts

    make.log = log  # type: ignore[attr-defined]
    return make


def _log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _q(statement: str = STATEMENT, imports: list[str] | None = None) -> Question:
    return Question(id="p1", question="Prove it.", answer="", type="proof", lean_statement=statement,
                    lean_imports=imports)


PROOF = "Here is the proof:\n```lean\ntheorem add_two (n : Nat) : n + 2 = n + 1 + 1 := by\n  rfl\n```"


def test_statement_and_body_splicing_never_trusts_the_models_statement() -> None:
    header, name = statement_header(STATEMENT)
    assert header == "theorem add_two (n : Nat) : n + 2 = n + 1 + 1 :=" and name == "add_two"
    # the model weakened the statement: only its proof body survives
    cheat = "```lean\ntheorem add_two (n : Nat) : True := by\n  trivial\n```"
    job = splice(STATEMENT, ["Mathlib"], cheat)
    assert job["code"].startswith("theorem add_two (n : Nat) : n + 2 = n + 1 + 1 :=\nby\n  trivial")
    assert ": True" not in job["code"] and job["code"].endswith("#print axioms add_two")
    assert job["header"] == "import Mathlib"
    assert proof_body("by simp", "add_two") == ("", "by simp")
    helpers, body = proof_body("```lean\nimport Mathlib\nlemma aux : 1 = 1 := rfl\ntheorem add_two (n : Nat) : "
                               "n + 2 = n + 1 + 1 := aux ▸ rfl\n```", "add_two")
    assert helpers == "lemma aux : 1 = 1 := rfl" and body == "aux ▸ rfl"
    assert statement_header("example : 1 + 1 = 2 := by sorry")[1] == "scireflect_target"


def test_pass(repl: Any) -> None:
    v = check_proof(_q(), PROOF, **repl())
    assert v.ok and v.reason == "pass" and v.details["axioms"] == ["propext"]
    sent = [e["cmd"] for e in _log(repl.log)]
    assert sent[-1]["cmd"].startswith("theorem add_two (n : Nat) : n + 2 = n + 1 + 1 :=")


@pytest.mark.parametrize("rule,reason", [
    ({"match": "omega", "response": {"messages": [{"severity": "error", "pos": {"line": 2, "column": 2},
                                                    "data": "omega could not prove the goal"}]}}, "lean_error"),
    ({"match": "omega", "response": {"sorries": [{"pos": {"line": 2, "column": 2}, "goal": "⊢ n + 2 = n + 1 + 1"}],
                                     "messages": [{"severity": "warning", "pos": {"line": 1, "column": 8},
                                                   "data": "declaration uses 'sorry'"}]},
      "print_axioms": ["sorryAx"]}, "sorry"),
    ({"match": "omega", "print_axioms": ["propext", "sorryAx"]}, "sorry"),  # only #print axioms reveals it
    ({"match": "omega", "print_axioms": ["propext", "Classical.choice", "my_magic"]}, "nonstandard_axiom"),
    ({"match": "omega", "print_axioms": []}, "pass"),
])
def test_verdict_mapping(repl: Any, rule: dict[str, Any], reason: str) -> None:
    v = check_proof(_q(), "by omega", **repl([rule]))
    assert v.reason == reason and v.ok is (reason == "pass")
    if reason == "lean_error":
        assert "omega could not prove the goal" in v.message
        assert v.details["messages"][0]["line"] == 2
    if reason == "sorry" and "sorries" in rule.get("response", {}):
        assert v.details["sorries"][0]["goal"] == "⊢ n + 2 = n + 1 + 1"
    if reason == "nonstandard_axiom":
        assert "my_magic" in v.message


def test_forbidden_commands_are_refused_before_lean(repl: Any) -> None:
    v = check_proof(_q(), "```lean\naxiom cheat : False\ntheorem add_two (n : Nat) : n + 2 = n + 1 + 1 := "
                          "cheat.elim\n```", **repl())
    assert v.reason == "lean_error" and "axiom" in v.message
    assert _log(repl.log) == []
    assert check_proof(_q(), "", **repl()).reason == "no_answer"


def test_timeout_kills_and_recycles_the_process(repl: Any) -> None:
    opts = repl([{"match": "slow_tactic", "sleep": 60}], timeout_s=1)
    t0 = time.monotonic()
    v = check_proof(_q(), "by slow_tactic", **opts)
    assert v.reason == "timeout" and time.monotonic() - t0 < 10
    first_pid = _log(repl.log)[-1]["pid"]
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)
    assert check_proof(_q(), "by rfl", **opts).reason == "pass"
    assert _log(repl.log)[-1]["pid"] != first_pid


def test_crashed_repl_gives_error_and_is_replaced(repl: Any) -> None:
    opts = repl([{"match": "boom", "crash": True}])
    assert check_proof(_q(), "by boom", **opts).reason == "error"
    assert check_proof(_q(), "by rfl", **opts).reason == "pass"


def test_recycled_after_max_uses_and_pooled_per_header(repl: Any) -> None:
    opts = repl(max_uses=2)
    for _ in range(3):
        assert check_proof(_q(), "by rfl", **opts).ok
    log = _log(repl.log)
    body_pids = [e["pid"] for e in log if not e["cmd"]["cmd"].startswith("import")]
    assert body_pids[0] == body_pids[1] != body_pids[2]
    check_proof(_q(imports=["Mathlib"]), "by rfl", **opts)
    check_proof(_q(imports=["Mathlib"]), "by rfl", **opts)
    log = _log(repl.log)
    imports = [e for e in log if e["cmd"]["cmd"].startswith("import Mathlib")]
    assert len(imports) == 1  # the header is elaborated once; later commands reuse its env
    later = [e for e in log if e["cmd"].get("env") == 1]
    assert later and all(e["pid"] == imports[0]["pid"] for e in later)


def test_recycled_when_memory_is_high(repl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_REPL_BALLAST_MB", "64")
    opts = repl(max_mem_mb=16)
    check_proof(_q(), "by rfl", **opts)
    check_proof(_q(), "by rfl", **opts)
    pids = [e["pid"] for e in _log(repl.log)]
    assert len(set(pids)) == 2


def test_concurrent_checks_from_threads(repl: Any) -> None:
    opts = repl(max_repls=2)
    with ThreadPoolExecutor(4) as ex:
        verdicts = list(ex.map(lambda _: check_proof(_q(), "by rfl", **opts), range(8)))
    assert all(v.ok for v in verdicts)
    assert len({e["pid"] for e in _log(repl.log)}) <= 2


def test_unavailable_without_a_toolchain() -> None:
    v = check_proof(_q(), "by rfl", backend="repl", repl_cmd=["no-such-lake-binary-xyz", "env", "repl"])
    assert v.reason == "unavailable" and "not found" in v.message


def test_verifier_class_and_registry(repl: Any) -> None:
    reg = default_registry(plugins=False)
    [v] = reg.for_question(_q(), names=None, options={"lean": repl()})
    assert isinstance(v, LeanVerifier)
    assert v.verify(_q(), Attempt(stage="cot", solution=PROOF)).reason == "pass"
    no_stmt = Question(id="p2", question="?", answer="", type="proof")
    assert LeanVerifier().verify(no_stmt, Attempt(stage="cot", solution="by rfl")).reason == "error"


# -- Kimina ------------------------------------------------------------------------------------
class _Kimina(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Kimina.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        code = body["snippet"]["code"]
        if "slow_tactic" in code:
            out = {"id": body["snippet"]["id"], "time": 1.0, "error": "Lean REPL command timed out in 1 seconds"}
        elif "bad" in code:
            out = {"id": body["snippet"]["id"], "time": 0.1, "response": {"env": 0, "messages": [
                {"severity": "error", "pos": {"line": 1, "column": 0}, "data": "unknown tactic"}]}}
        else:
            out = {"id": body["snippet"]["id"], "time": 0.1, "response": {"env": 0, "messages": [
                {"severity": "info", "pos": {"line": 3, "column": 0},
                 "data": "'add_two' depends on axioms: [propext]"}]}}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def kimina() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Kimina)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    _Kimina.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_kimina_backend(kimina: str) -> None:
    opts = {"backend": "kimina", "kimina_url": kimina, "kimina_api_key": "k3y"}
    v = check_proof(_q(imports=["Mathlib"]), "by rfl", **opts)
    assert v.ok and v.reason == "pass" and v.details["backend"] == "kimina"
    req = _Kimina.seen[-1]
    assert req["path"] == "/api/check" and req["auth"] == "Bearer k3y"
    assert req["body"]["snippet"]["code"].startswith("import Mathlib\n\ntheorem add_two")
    assert check_proof(_q(), "by bad", **opts).reason == "lean_error"
    assert check_proof(_q(), "by slow_tactic", **opts).reason == "timeout"


def test_kimina_unreachable_is_unavailable() -> None:
    v = check_proof(_q(), "by rfl", backend="kimina", kimina_url="http://127.0.0.1:9")
    assert v.reason == "unavailable"


# -- real Lean -----------------------------------------------------------------------------------
_NO_LEAN = ("no Lean toolchain: `lake` is not on PATH" if shutil.which("lake") is None else
            "SCIREFLECT_LEAN_PROJECT (a Lake project that depends on the REPL) is not set"
            if not os.environ.get("SCIREFLECT_LEAN_PROJECT") else "")


@pytest.mark.skipif(bool(_NO_LEAN), reason=_NO_LEAN or "lean available")
def test_real_lean_repl() -> None:
    q = _q("theorem add_two (n : Nat) : n + 2 = n + 1 + 1 := by sorry")
    assert check_proof(q, "by rfl", timeout_s=300).reason == "pass"
    assert check_proof(q, "by sorry", timeout_s=300).reason == "sorry"
    assert check_proof(q, "by exact foo", timeout_s=300).reason == "lean_error"
