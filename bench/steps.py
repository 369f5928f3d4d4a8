"""Benchmark: the ``steps`` verifier on the SciBench worked textbook solutions, correct and perturbed.

Every one of the 112 solutions (``NAME_sol.json``, field ``solution``) is a correct derivation, so every
step marked wrong there is a false alarm. Then each solution with a checked claim gets ONE number changed:
the first number on the right-hand side of one checked claim (chosen with ``--seed``) is multiplied by 1.5
(``--change digit``: its first significant digit is changed), and the solution counts as detected when a step on the changed line is marked wrong. ``--all-claims``
also perturbs every checked claim separately and reports that rate. All checks go through the sandboxed
worker pool, as in production.

    .venv/bin/python bench/steps.py [--data DIR] [--seed N] [--workers N] [--timeout S] [--all-claims]
                                    [--change scale|digit] [--json OUT]

Last line: ``false_wrong_steps=<int> perturbed_detection_rate=<float> perturbed_solutions=<int>
solutions_with_checks=<int> checked_claims=<int> claims_per_solution=<float> steps_per_s=<float>``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "scibench"
FACTOR = 1.5
# A number that can be changed: not an exponent or index (after ^ or _), not the 10 of "\times 10^{n}",
# not inside a unit macro; thousands separators belong to it.
_NUMBER = re.compile(r"(?<![\d.,^_])(?<!\^\{)(?<!\^\{-)(?<!_\{)(\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?)(?!\d)")
_SCI_TEN = re.compile(r"(?:\\times|\\cdot|×)\s*$")


def load(data: Path) -> list[tuple[str, str]]:
    """(name, solution) for every worked solution under ``data``."""
    out = []
    for f in sorted(data.glob("*_sol.json")):
        for i, d in enumerate(json.loads(f.read_text(encoding="utf-8"))):
            if d.get("solution"):
                out.append((f"{f.stem.removesuffix('_sol')}:{i}", d["solution"]))
    return out


def _scaled(number: str, change: str = "scale") -> str | None:
    """``number`` times 1.5 (or, with ``change="digit"``, its first significant digit d -> d % 9 + 1),
    written with as many decimals; None when that leaves it unchanged (0)."""
    digits = number.replace(",", "")
    if change == "digit":
        m = re.search(r"[1-9]", digits)
        if not m:
            return None
        return digits[:m.start()] + str(int(m.group()) % 9 + 1) + digits[m.end():]
    if "." in digits:
        places = len(digits.split(".")[1])
        new = f"{float(digits) * FACTOR:.{places}f}"
    else:
        new = str((int(digits) * 3 + 1) // 2)  # rounded up: 1 -> 2
    return None if float(new) == float(digits) else new


def perturb(solution: str, step: dict[str, Any], change: str = "scale") -> tuple[str, int] | None:
    """The solution with the first changeable number of the step's right-hand side scaled, and the
    1-based line changed; None when the right-hand side cannot be found on its line or has no number."""
    lines = solution.split("\n")
    idx = step["line"] - 1
    rhs = step["rhs"]
    if not (0 <= idx < len(lines)) or "\n" in rhs:
        return None
    at = lines[idx].find(rhs)
    if at < 0:
        return None
    for m in _NUMBER.finditer(rhs):
        if m.group(1) == "10" and rhs[m.end():].lstrip().startswith("^") and _SCI_TEN.search(rhs[:m.start()]):
            continue
        if re.search(r"\\(?:mathrm|text)\s*\{[^{}]*$", rhs[:m.start()]):
            continue
        new = _scaled(m.group(1), change)
        if new is None:
            continue
        changed = rhs[:m.start()] + new + rhs[m.end():]
        lines[idx] = lines[idx][:at] + changed + lines[idx][at + len(rhs):]
        return "\n".join(lines), step["line"]
    return None


def _check(solution: str, timeout: float) -> dict[str, Any]:
    from scireflect.tools.verifiers.steps import check_steps

    v = check_steps(solution, timeout_s=timeout)
    return {"reason": v.reason, "steps": v.details.get("steps", [])}


def run_correct(sols: list[tuple[str, str]], threads: int, timeout: float) -> tuple[list[dict[str, Any]], float]:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        out = list(ex.map(lambda s: _check(s[1], timeout), sols))
    return out, time.perf_counter() - t0


def _flagged(result: dict[str, Any], line: int) -> bool:
    return any(s["status"] == "wrong" and s["line"] == line for s in result["steps"])


def run_perturbed(sols: list[tuple[str, str]], correct: list[dict[str, Any]], threads: int, timeout: float,
                  seed: int, all_claims: bool, change: str = "scale") -> dict[str, Any]:
    """One perturbation per solution (a seeded choice among its perturbable checked claims), and with
    ``all_claims`` one per checked claim."""
    rng = random.Random(seed)
    chosen, every = [], []
    for (name, text), res in zip(sols, correct):
        options = [p for s in res["steps"] if s["status"] == "ok" and (p := perturb(text, s, change)) is not None]
        if options:
            chosen.append((name, *rng.choice(options)))
        if all_claims:
            every += [(name, *p) for p in options]

    def detect(jobs: list[tuple[str, str, int]]) -> list[bool]:
        with ThreadPoolExecutor(threads) as ex:
            return list(ex.map(lambda j: _flagged(_check(j[1], timeout), j[2]), jobs))

    hits = detect(chosen)
    out = {"perturbed": len(chosen), "detected": sum(hits),
           "missed": [name for (name, _, _), hit in zip(chosen, hits) if not hit]}
    if all_claims:
        all_hits = detect(every)
        out |= {"claims_perturbed": len(every), "claims_detected": sum(all_hits)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the SciBench *_sol.json files")
    ap.add_argument("--seed", type=int, default=0, help="which checked claim of a solution is perturbed")
    ap.add_argument("--workers", type=int, default=None, help="pool processes (default: CPU count, max 4)")
    ap.add_argument("--threads", type=int, default=None, help="concurrent callers (default: 2 x workers)")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--all-claims", action="store_true", help="also perturb every checked claim separately")
    ap.add_argument("--change", choices=("scale", "digit"), default="scale",
                    help="scale: the number times 1.5; digit: its first significant digit d -> d %% 9 + 1")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = ap.parse_args()
    sols = load(args.data)
    if not sols:
        sys.exit(f"error: no *_sol.json solutions under {args.data}")
    if args.workers:
        os.environ["SCIREFLECT_VERIFIER_WORKERS"] = str(args.workers)

    from scireflect.tools.verifiers.pool import get_pool

    pool = get_pool()
    if not pool.wait_ready():
        sys.exit("error: verifier workers did not start")
    threads = args.threads or 2 * pool.size

    correct, wall = run_correct(sols, threads, args.timeout)
    steps = [s for r in correct for s in r["steps"]]
    wrong = [(name, s) for (name, _), r in zip(sols, correct) for s in r["steps"] if s["status"] == "wrong"]
    checked = sum(s["status"] in ("ok", "wrong") for s in steps)
    with_checks = sum(any(s["status"] in ("ok", "wrong") for s in r["steps"]) for r in correct)
    errors = sum(r["reason"] in ("timeout", "too_large", "error") for r in correct)
    pert = run_perturbed(sols, correct, threads, args.timeout, args.seed, args.all_claims, args.change)
    rate = pert["detected"] / pert["perturbed"] if pert["perturbed"] else 0.0

    print(f"steps verifier on {len(sols)} SciBench worked solutions ({args.data}), {pool.size} worker "
          f"processes, timeout {args.timeout:g} s\n")
    print("| measure | value |")
    print("| --- | ---: |")
    print(f"| steps extracted | {len(steps)} |")
    print(f"| steps checked (ok or wrong) | {checked} |")
    print(f"| solutions with a checked step | {with_checks} of {len(sols)} |")
    print(f"| **steps wrong on the correct solutions** | **{len(wrong)}** |")
    print(f"| solutions the pool could not check (timeout/error) | {errors} |")
    how = f"x{FACTOR:g}" if args.change == "scale" else "first digit changed"
    print(f"| perturbed solutions (one number {how} on a checked claim) | {pert['perturbed']} |")
    print(f"| **changed line flagged wrong** | **{pert['detected']} ({rate:.3f})** |")
    if args.all_claims and pert["claims_perturbed"]:
        print(f"| every checked claim perturbed separately: flagged | {pert['claims_detected']} of "
              f"{pert['claims_perturbed']} ({pert['claims_detected'] / pert['claims_perturbed']:.3f}) |")
    print(f"| throughput (correct solutions) | {len(steps) / wall:.0f} steps/s, {len(sols) / wall:.1f} "
          f"solutions/s |")
    for name, s in wrong:
        print(f"false wrong: {name} line {s['line']}: {s['text'][:160]} ({s.get('note', '')})")
    if pert["missed"]:
        print("not detected: " + ", ".join(pert["missed"]))
    if args.json:
        args.json.write_text(json.dumps({"correct": correct, "perturbed": pert}, indent=1))
    print(f"false_wrong_steps={len(wrong)} perturbed_detection_rate={rate:.3f} perturbed_solutions={pert['perturbed']} "
          f"solutions_with_checks={with_checks} checked_claims={checked} "
          f"claims_per_solution={len(steps) / len(sols):.2f} steps_per_s={len(steps) / wall:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
