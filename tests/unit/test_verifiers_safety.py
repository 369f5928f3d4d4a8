"""Model output is untrusted: code never runs, huge or endless inputs come back as ``timeout``/``too_large``
within the limit, and crashed or killed workers are replaced while the pool keeps serving."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scireflect.tools import verify_answer
from scireflect.tools.verifiers.pool import KILL_GRACE_S, WorkerPool, get_pool

SLOW_SIMPLIFY = (r"(x+y+z+w+1)^{40}", r"(x+y+z+w+1)^{39}(x+y+z+w+2)")  # sympy's simplify needs minutes


def _payloads(target: Path) -> list[str]:
    cmd = f"__import__('os').system('touch {target}')"
    return [
        cmd,
        f"${cmd}$",
        rf"\boxed{{{cmd}}}",
        rf"\operatorname{{__import__}}('os').system('touch {target}')",
        rf"\text{{{cmd}}}",
        f"(lambda: {cmd})()",
        f"(lambda x: __import__('subprocess').call(['touch', '{target}']))(1)",
        f"eval(\"{cmd}\")",
        f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['touch', '{target}'])",
        f"open('{target}', 'w').write('x')",
    ]


@pytest.mark.parametrize("screen", [True, False])
def test_code_in_answers_never_runs(tmp_path: Path, screen: bool) -> None:
    target = tmp_path / "pwned"
    for payload in _payloads(target):
        for pred, gold in ((payload, "1"), ("1", payload), (payload, payload + " ")):
            v = verify_answer(pred, gold, screen=screen, timeout_s=5)
            assert v.verifier == "answer" and v.reason
        assert not target.exists(), payload
    assert verify_answer("1/2", "0.5").ok  # and the pool still serves (not identical: it reaches a worker)


def test_sandbox_holds_even_when_a_library_evaluates_the_text(tmp_path: Path) -> None:
    """Defence in depth: inside a worker, even sympy's parse_expr (Python eval) cannot touch the machine."""
    target = tmp_path / "pwned"
    pool = WorkerPool(1, debug_tasks=True)
    try:
        for text in (f"__import__('os').system('touch {target}')",
                     f"__import__('subprocess').Popen(['touch', '{target}'])",
                     f"open('{target}', 'w')",
                     f"__import__('pathlib').Path('{target}').touch()"):
            r = pool.call("_parse_expr", {"text": text}, timeout_s=10)
            assert r.status == "error", (text, r)
            assert not target.exists(), text
        # math-verify alone (its expression extractor uses parse_expr) is also sandboxed
        r = pool.call("math_verify_alone", {"pred": f"__import__('os').system('touch {target}')", "gold": "0"},
                      timeout_s=10)
        assert not target.exists()
        assert pool.call("ping").ok
    finally:
        pool.close()


def test_workers_run_with_memory_and_cpu_limits() -> None:
    r = get_pool().call("ping")
    assert r.ok
    soft, hard = r.result["rlimit_as"]
    assert 0 < soft <= 4096 * 1024 * 1024 and soft != resource.RLIM_INFINITY
    assert r.result["pid"] != os.getpid()


@pytest.mark.parametrize("pred,gold", [
    ("10^{10^{10^{10}}}", "1"),
    ("10^{10^{10^{10}}}", "10^{10^{10^{10}}}+1"),
    ("9^{9^{9^{9}}}+1", "9^{9^{9^{9}}}"),
    ("\\frac{1}{" * 10_000 + "2" + "}" * 10_000, "1"),
    ("7" * 1_000_000, "7"),
    ("(" * 5000 + "1" + ")" * 5000, "1"),
    ("1000000!", "1000001!"),
])
def test_huge_answers_are_refused_within_the_limit(pred: str, gold: str) -> None:
    t0 = time.monotonic()
    v = verify_answer(pred, gold, timeout_s=3)
    assert v.reason in ("too_large", "timeout"), (v.reason, v.message)
    assert not v.ok
    assert time.monotonic() - t0 < 3 + KILL_GRACE_S + 2
    assert verify_answer("4/2", "2").ok  # not identical: a worker answers


def test_endless_simplify_times_out_and_the_pool_keeps_serving() -> None:
    t0 = time.monotonic()
    v = verify_answer(*SLOW_SIMPLIFY, timeout_s=2)
    elapsed = time.monotonic() - t0
    assert v.reason == "timeout" and not v.ok
    assert elapsed < 2 + KILL_GRACE_S + 2
    assert verify_answer("3.0 m/s", "300 cm/s").ok


def test_a_killed_worker_is_replaced_and_its_request_gets_a_verdict() -> None:
    pool = get_pool()
    pool.wait_ready()
    before = set(pool.pids())
    out: list = []
    th = threading.Thread(target=lambda: out.append(verify_answer(*SLOW_SIMPLIFY, timeout_s=30)))
    th.start()
    time.sleep(1.0)
    busy = [pid for pid in pool.pids() if _cpu_busy(pid)] or pool.pids()
    for pid in busy:
        os.kill(pid, signal.SIGKILL)
    th.join(60)
    assert out and out[0].reason in ("error", "timeout") and not out[0].ok
    assert verify_answer("1/2", "0.5").ok
    assert pool.wait_ready(60)
    assert set(pool.pids()) != before


def _cpu_busy(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "R"
    except OSError:
        return False


def test_debug_pool_crash_segfault_hang_and_oom() -> None:
    pool = WorkerPool(1, debug_tasks=True, memory_mb=1024)
    try:
        assert pool.call("ping").ok
        r = pool.call("_crash", {"code": 7})
        assert r.status == "crashed" and "7" in r.error
        assert pool.call("ping").ok
        r = pool.call("_segv")
        assert r.status == "crashed" and "SIGSEGV" in r.error
        assert pool.call("ping").ok  # the replacement is up; time only the hang below
        t0 = time.monotonic()
        r = pool.call("_spin_c", timeout_s=1)  # stuck in C: only the pool's kill ends it
        assert r.status == "timeout" and time.monotonic() - t0 < 1 + KILL_GRACE_S + 2
        r = pool.call("_spin_py", timeout_s=1)  # Python loop: the worker's own deadline answers
        assert r.status == "timeout"
        r = pool.call("_alloc", {"mb": 4096})
        assert r.status == "too_large"
        assert pool.call("ping").ok
        assert pool.stats["crashes"] >= 2 and pool.stats["replaced"] >= 3
    finally:
        pool.close()
    assert pool.call("ping").status == "error"  # closed


def test_pool_starts_lazily_and_closes_its_workers() -> None:
    pool = WorkerPool(1)
    assert pool.pids() == []
    assert pool.call("ping").ok
    pids = pool.pids()
    assert len(pids) == 1
    pool.close()
    time.sleep(0.2)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_interpreter_exit_shuts_the_pool_down(tmp_path: Path) -> None:
    code = ("from scireflect.tools import verify_answer\n"
            "from scireflect.tools.verifiers.pool import get_pool\n"
            "assert verify_answer('1/2', '0.5').ok\n"  # not identical: the pool starts
            "print(' '.join(map(str, get_pool().pids())))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pids = list(map(int, out.stdout.split()))
    assert pids, "the pool never started"
    time.sleep(0.5)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and Linux process semantics")
@pytest.mark.parametrize("task,spawn_in_thread", [("_spin_c", False), ("_spin_c", True), ("_spin_py", True)])
def test_workers_die_with_a_killed_parent_even_when_busy(task: str, spawn_in_thread: bool) -> None:
    # The parent starts a pool (from its main thread or from a thread that then ends), sets every worker
    # spinning with a long deadline (in C code, where no Python signal handler runs), and is killed -9.
    code = f"""
import sys, threading, time
from scireflect.tools.verifiers.pool import WorkerPool
pool = WorkerPool(2, debug_tasks=True)
starter = threading.Thread(target=pool.start) if {spawn_in_thread} else None
(starter.start(), starter.join()) if starter else pool.start()
assert pool.wait_ready()
for _ in range(2):
    threading.Thread(target=pool.call, args=({task!r}, {{}}), kwargs={{"timeout_s": 3000}}, daemon=True).start()
time.sleep(1.5)
print(" ".join(map(str, pool.pids())), flush=True)
time.sleep(600)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        pids = list(map(int, line.split()))
        assert pids and all(_alive(p) for p in pids), line
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in pids if _alive(p)], "workers outlived their killed parent"
    finally:
        proc.kill()


def test_a_huge_requested_deadline_is_capped() -> None:
    from scireflect.tools.verifiers import _worker

    assert _worker._task_seconds(1e9) == _worker.MAX_TASK_S
    assert _worker._task_seconds("nan") == 5.0 and _worker._task_seconds(-3) == 5.0
    assert _worker._task_seconds(2) == 2.0
