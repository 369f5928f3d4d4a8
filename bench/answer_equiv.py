"""Benchmark: ``verify_answer`` against math-verify alone on every labelled answer set, in one run.

Sets: the 525 labelled answer pairs (per category), SciBench's 112 worked textbook solutions and their
wrong-gold controls (built from ``../shared/scibench``), and the tables in ``tests/regress/`` (Math-Verify's
default-flag test cases, reasoning-model outputs, public model outputs).

Both run in the same process run, through the same sandboxed worker pool (math-verify's
``verify(parse(gold), parse(pred))`` as task ``math_verify_alone``), so throughput and accuracy are
measured under the same conditions. A timeout or worker failure counts as a wrong verdict.

    .venv/bin/python bench/answer_equiv.py [--data PATH] [--workers N] [--timeout S] [--json OUT]

Last line: ``min_category_delta_vs_math_verify=<float> science_units=<float> scibench=<float>
false_accepts=<int> checks_per_s=<float> math_verify_checks_per_s=<float> all_sets_checks_per_s=<float>
all_sets_math_verify_checks_per_s=<float>`` (false accepts over all sets; throughput on the 525 pairs and
over all sets). Each run gets fresh worker processes, so neither side parses from the other's cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "answer_equiv" / "answer_equiv_dev.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    cases = []
    with path.open() as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    cases.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{n}: not JSON: {e}")
    return cases


def fresh_pool() -> Any:
    """New worker processes for each run: math-verify caches parsed LaTeX per process, so the run after
    another one on the same cases would otherwise parse from a warm cache."""
    from scireflect.tools.verifiers.pool import get_pool, shutdown_pool

    shutdown_pool()
    pool = get_pool()
    if not pool.wait_ready():
        sys.exit("error: verifier workers did not start")
    return pool


def run_ours(cases: list[dict[str, Any]], threads: int,
             timeout: float) -> tuple[list[dict[str, Any]], float, float]:
    """verify_answer on every case in a fresh pool: (results, wall seconds, CPU seconds of pool and caller)."""
    from scireflect.tools import verify_answer

    pool = fresh_pool()

    def one(case: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        v = verify_answer(case["pred"], case["gold"], timeout_s=timeout)
        return {"ok": v.ok, "reason": v.reason, "latency": time.perf_counter() - t0, "id": case.get("id"),
                "worker_s": v.details.get("elapsed_s")}

    pids = pool.pids() + [os.getpid()]
    cpu0, t0 = _cpu_s(pids), time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        out = list(ex.map(one, cases))
    wall = time.perf_counter() - t0
    return out, wall, _cpu_s(pids) - cpu0


def run_math_verify(cases: list[dict[str, Any]], threads: int, timeout: float) -> tuple[list[dict[str, Any]], float]:
    pool = fresh_pool()

    def one(case: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        r = pool.call("math_verify_alone", {"pred": case["pred"], "gold": case["gold"]}, timeout_s=timeout)
        ok = bool(r.ok and r.result and r.result.get("ok"))
        return {"ok": ok, "reason": r.status if not r.ok else ("equal" if ok else "unequal"),
                "latency": time.perf_counter() - t0}

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        out = list(ex.map(one, cases))
    return out, time.perf_counter() - t0


def _cpu_s(pids: list[int]) -> float:
    """User+system CPU seconds used so far by the given processes (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def score(cases: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    by: dict[str, dict[str, float]] = defaultdict(lambda: {"n": 0, "correct": 0, "fa": 0, "fr": 0, "timeouts": 0})
    for case, r in zip(cases, results):
        for key in (case["category"], "overall"):
            s = by[key]
            s["n"] += 1
            timed_out = r["reason"] in ("timeout", "crashed")
            s["timeouts"] += timed_out
            if timed_out:  # a timeout is a wrong verdict whatever the label (never an accept)
                s["fr"] += 1 if case["equal"] else 0
                continue
            if r["ok"] == case["equal"]:
                s["correct"] += 1
            elif r["ok"]:
                s["fa"] += 1
            else:
                s["fr"] += 1
    for s in by.values():
        s["acc"] = s["correct"] / s["n"] if s["n"] else 0.0
    return dict(by)


def latency_stats(results: list[dict[str, Any]]) -> dict[str, float]:
    lat = sorted(r["latency"] for r in results)
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
    return {"p50_s": statistics.median(lat), "p99_s": p99, "max_s": lat[-1]}


def _sets(args: argparse.Namespace) -> list[tuple[str, list[dict[str, Any]], str]]:
    """(name, cases, what math-verify is given as gold) for every labelled set that is present."""
    from scireflect.testing import answer_tables as at

    sets = [("dev (525 pairs)", load(args.data), "gold")]
    if at.SCIBENCH.is_dir():
        sb = at.scibench_cases()
        sets.append(("SciBench worked solutions", [c for c in sb if c["category"] != "scibench_control"], "number"))
        sets.append(("SciBench wrong-gold controls", [c for c in sb if c["category"] == "scibench_control"], "number"))
    names = {"math_verify_cases": "Math-Verify test suite (default flags)",
             "reasoning_cases": "reasoning-model outputs", "public_outputs": "public model outputs"}
    for stem, path in at.tables().items():
        sets.append((names.get(stem, stem), at.load_table(path), "gold"))
    return sets


def _number_only(gold: str) -> str:
    """math-verify has no units: SciBench's gold is given to it as the number alone."""
    return gold.split(" ", 1)[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--workers", type=int, default=None, help="pool processes (default: CPU count, max 4)")
    ap.add_argument("--threads", type=int, default=None, help="concurrent callers (default: 2 x workers)")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"error: benchmark data not found: {args.data}")
    if args.workers:
        os.environ["SCIREFLECT_VERIFIER_WORKERS"] = str(args.workers)

    from scireflect.tools.verifiers.pool import get_pool

    pool = get_pool()
    if not pool.wait_ready():
        sys.exit("error: verifier workers did not start")
    threads = args.threads or 2 * pool.size
    sets = _sets(args)
    cases = sets[0][1]

    load_before = os.getloadavg()[0]
    ours, ours_wall, cpu_ours = run_ours(cases, threads, args.timeout)
    base, base_wall = run_math_verify(cases, threads, args.timeout)
    s_ours, s_base = score(cases, ours), score(cases, base)
    lat_ours, lat_base = latency_stats(ours), latency_stats(base)

    cats = sorted(k for k in s_ours if k != "overall")
    print(f"answer equivalence on {args.data.name}: {len(cases)} pairs, {pool.size} worker processes, "
          f"{os.cpu_count()} CPUs, timeout {args.timeout:g} s\n")
    print("| category | n | verify_answer acc | FA | FR | math-verify acc | FA | FR | delta |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    deltas = []
    for c in cats + ["overall"]:
        a, b = s_ours[c], s_base[c]
        delta = a["acc"] - b["acc"]
        if c != "overall":
            deltas.append(delta)
        name = f"**{c}**" if c == "overall" else c
        print(f"| {name} | {int(a['n'])} | {a['acc']:.3f} | {int(a['fa'])} | {int(a['fr'])} | {b['acc']:.3f} | "
              f"{int(b['fa'])} | {int(b['fr'])} | {delta:+.3f} |")
    cps, cps_base = len(cases) / ours_wall, len(cases) / base_wall
    print(f"\nthroughput: verify_answer {cps:.1f} checks/s (p50 {lat_ours['p50_s'] * 1000:.0f} ms, "
          f"p99 {lat_ours['p99_s'] * 1000:.0f} ms, max {lat_ours['max_s'] * 1000:.0f} ms); "
          f"math-verify alone {cps_base:.1f} checks/s (p99 {lat_base['p99_s'] * 1000:.0f} ms)")
    print(f"CPU: {cpu_ours:.1f} s (workers + caller) for {len(cases)} checks = {len(cases) / (cpu_ours / 2):.0f} "
          f"checks/s if 2 cores were free; load average before the run {load_before:.1f} on {os.cpu_count()} CPUs")
    slow = sorted(ours, key=lambda r: -r["latency"])[:3]
    print("slowest: " + ", ".join(f"{r['id']} {r['latency'] * 1000:.0f} ms (in worker {1000 * (r['worker_s'] or 0):.0f} ms)"
                                  for r in slow))

    # Every set side by side, in the same run and pool.
    print("\n| set | n | verify_answer acc | FA | FR | checks/s | math-verify acc | FA | FR | checks/s | timeouts |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows: dict[str, dict[str, Any]] = {}
    totals = {"n": 0, "ours_s": 0.0, "mv_s": 0.0}
    total_fa = int(s_ours["overall"]["fa"])
    all_ours: list[dict[str, Any]] = list(ours)
    for name, set_cases, mv_gold in sets:
        if set_cases is cases:
            o, ob, ow, bw = ours, base, ours_wall, base_wall
        else:
            o, ow, _ = run_ours(set_cases, threads, args.timeout)
            mv_cases = [dict(c, gold=_number_only(c["gold"])) for c in set_cases] if mv_gold == "number" else set_cases
            ob, bw = run_math_verify(mv_cases, threads, args.timeout)
            total_fa += int(score(set_cases, o)["overall"]["fa"])
            all_ours.extend(o)
        totals["n"] += len(set_cases)
        totals["ours_s"] += ow
        totals["mv_s"] += bw
        a, b = score(set_cases, o)["overall"], score(set_cases, ob)["overall"]
        rows[name] = {"ours": a, "math_verify": b, "checks_per_s": len(set_cases) / ow,
                      "math_verify_checks_per_s": len(set_cases) / bw}
        print(f"| {name} | {int(a['n'])} | {a['acc']:.3f} | {int(a['fa'])} | {int(a['fr'])} | {len(set_cases) / ow:.1f} | "
              f"{b['acc']:.3f} | {int(b['fa'])} | {int(b['fr'])} | {len(set_cases) / bw:.1f} | {int(a['timeouts'])} |")
    all_cps, all_cps_base = totals["n"] / totals["ours_s"], totals["n"] / totals["mv_s"]
    print(f"| **all sets** | {totals['n']} | | {total_fa} | | {all_cps:.1f} | | | | {all_cps_base:.1f} | |")
    print(f"\nSciBench math-verify column: gold given as the number alone (math-verify has no units). "
          f"Timeouts: verify_answer {sum(r['reason'] in ('timeout', 'crashed') for r in all_ours)} over all sets; "
          f"last pool's stats {get_pool().stats}")
    if args.json:
        args.json.write_text(json.dumps({"ours": s_ours, "math_verify": s_base, "latency": lat_ours,
                                         "checks_per_s": cps, "math_verify_checks_per_s": cps_base, "sets": rows},
                                        indent=2))
    sb = rows.get("SciBench worked solutions", {}).get("ours", {})
    print(f"min_category_delta_vs_math_verify={min(deltas):.3f} science_units={s_ours['science_units']['acc']:.3f} "
          f"scibench={sb.get('acc', float('nan')):.3f} false_accepts={total_fa} checks_per_s={cps:.1f} "
          f"math_verify_checks_per_s={cps_base:.1f} all_sets_checks_per_s={all_cps:.1f} "
          f"all_sets_math_verify_checks_per_s={all_cps_base:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
