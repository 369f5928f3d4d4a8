"""Batch throughput against the ideal, with the test server at a fixed latency per call.

    .venv/bin/python bench/throughput.py [--latency-ms 200] [--concurrency 1 8 32 128] [--mix ...] [--unit m/s^2]

For each concurrency C the batch engine (``Pipeline.arun_batch``: checkpoints, trace writer, verifiers,
everything a real run does) annotates about ``--waves`` x C questions whose outcomes follow ``--mix``;
the server answers each call after exactly ``--latency-ms``. Ideal throughput is
C / (calls per question x latency). Throughput is measured in the steady state: completions between the
moment the pool is full for one longest question and the moment the last question is started (ramp-up
and drain are not the orchestrator's doing). Also reported: the orchestrator's CPU time per question
(this process, all threads), the verifier pool's (its worker processes), and a plain sequential loop
that makes the same calls without the graph, stores or checkpoints.
Then the same at ``--slow-latency-ms`` (2 s per call, concurrency 256 by default), a real teacher's pace.
The last line reads ``ideal_ratio_c32=<float> ideal_ratio_c128=<float> ideal_ratio_2s_c256=<float>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CALLS = {"cot": 1, "reflection": 3, "with_answer": 6, "rejected": 6}  # with max_rounds=2 and stage 3 on


def questions(n: int, mix: dict[str, float], offset: int, unit: str | None = None) -> list[Any]:
    from scireflect.schema import Question
    from scireflect.testing.openai_server import pick_outcome

    out = []
    for i in range(offset, offset + n):
        text = f"A cart of mass {i + 1} kg feels a net force of {2 * i + 3} N. What is the acceleration of cart {i}?"
        out.append(Question(id=f"b{i}", question=text, answer=str(3 * i + 1), type="numeric", subject="physics",
                            unit=unit, metadata={"outcome": pick_outcome(text, mix)}))
    return out


def children_cpu(exclude: set[int]) -> float:
    import psutil

    total = 0.0
    for ch in psutil.Process().children(recursive=True):
        if ch.pid in exclude:
            continue
        try:
            t = ch.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def batch(url: str, qs: list[Any], c: int, workdir: Path) -> dict[str, Any]:
    from scireflect.graph.pipeline import Pipeline
    from scireflect.settings import Settings
    from scireflect.store import open_stores

    s = Settings(home=workdir, provider="openai", base_url=url, retrieval=False, dedup=False)
    stores = open_stores(s)
    pipe = Pipeline(s, stores, retriever=None, gate=None)
    starts: list[float] = []
    ends: list[float] = []
    run = pipe.start_run(None)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = await pipe.arun_batch(qs, run, concurrency=c, on_start=lambda _: starts.append(time.perf_counter()),
                                        on_done=lambda _: ends.append(time.perf_counter()))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        stores.close()
    return {"wall": wall, "cpu": cpu, "starts": starts, "ends": ends, "t0": t0, "counts": dict(summary.counts)}


def batch_processes(url: str, qs: list[Any], c: int, workers: int, workdir: Path,
                    longest_s: float = 1.8) -> dict[str, Any]:
    """The same batch on ``workers`` local processes (graph/distributed.py); the steady rate from progress
    samples (every 0.5 s): from one longest question after the first completion, while at least C remain."""
    from scireflect.graph.distributed import run_processes
    from scireflect.graph.pipeline import Pipeline
    from scireflect.settings import Settings
    from scireflect.store import open_stores

    s = Settings(home=workdir, provider="openai", base_url=url, retrieval=False, dedup=False)
    stores = open_stores(s)
    run = Pipeline(s, stores, retriever=None, gate=None).start_run(None)
    samples: list[tuple[float, int]] = []
    t0, c0 = time.perf_counter(), _cpu_with_reaped_children()
    run_processes(s, qs, run, concurrency=c, workers=workers,
                  on_progress=lambda p: samples.append((time.perf_counter(), p["done"])))
    wall = time.perf_counter() - t0
    stores.close()
    first = next((t for t, d in samples if d > 0), None)
    full = [(t, d) for t, d in samples if first is not None and t >= first + longest_s and d <= len(qs) - c]
    rate = (full[-1][1] - full[0][1]) / (full[-1][0] - full[0][0]) if len(full) > 2 else len(qs) / wall
    return {"wall": wall, "rate": rate, "cpu": _cpu_with_reaped_children() - c0}


def _cpu_with_reaped_children() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def steady_rate(res: dict[str, Any], longest_s: float) -> float:
    """Completions per second while the pool was full: after one longest question, until the last start."""
    a = res["t0"] + longest_s
    b = max(res["starts"])
    if b - a < longest_s:  # too short a window: fall back to the whole batch
        return len(res["ends"]) / res["wall"]
    return sum(1 for e in res["ends"] if a <= e <= b) / (b - a)


async def plain_loop(url: str, qs: list[Any], settings_home: Path) -> float:
    """The same calls, one question after another, without graph, stores or checkpoints."""
    from scireflect.agents import AnswerReviser, Critic, Reviser, Solver
    from scireflect.llm_http import http_chat_model
    from scireflect.schema import Attempt
    from scireflect.settings import Settings
    from scireflect.tools.extract import extract_answer
    from scireflect.tools.verifiers import default_registry

    s = Settings(home=settings_home, provider="openai", base_url=url, retrieval=False)
    model, reg = http_chat_model(s), default_registry()

    def check(q: Any, text: str, stage: str) -> Attempt:
        a = Attempt(stage=stage, solution=text, extracted_answer=extract_answer(text))  # type: ignore[arg-type]
        a.verdicts = [v.verify(q, a) for v in reg.for_question(q)]
        return a

    t0 = time.perf_counter()
    for q in qs:
        a = check(q, (await Solver().arun(model, s, url, question=q)).text, "cot")
        crit = None
        for _ in range(s.max_rounds):
            if a.ok:
                break
            crit = (await Critic().arun(model, s, url, question=q, attempt=a)).text
            a = check(q, (await Reviser().arun(model, s, url, question=q, attempt=a, critique=crit)).text,
                      "reflection")
        if not a.ok:
            a = check(q, (await AnswerReviser().arun(model, s, url, question=q, attempt=a, critique=crit)).text,
                      "with_answer")
    await model.aclose()
    return len(qs) / (time.perf_counter() - t0)


def cpu_check() -> float:
    """Seconds one core takes for a fixed pure-Python loop (about 1.6 s on the quiet development machine):
    shared machines vary by half, and this says how fast this one was during the run."""
    t = time.process_time()
    x = 0
    for i in range(30_000_000):
        x += i * i % 7
    return time.process_time() - t


def main() -> None:
    from scireflect.testing.openai_server import parse_mix

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    ap.add_argument("--mix", type=parse_mix, default=parse_mix("cot=0.4,reflection=0.3,with_answer=0.2,rejected=0.1"),
                    help="scripted outcomes (cot: 1 call, reflection: 3, with_answer and rejected: 6)")
    ap.add_argument("--waves", type=float, default=8.0, help="questions per run = waves x concurrency")
    ap.add_argument("--min-questions", type=int, default=16)
    ap.add_argument("--unit", default=None,
                    help="give every question this unit (e.g. m/s^2): wrong answers then carry it and go through "
                         "the verifier pool (pint), as answers with units do; by default answers are plain "
                         "numerals, which the verifier settles on the event loop")
    ap.add_argument("--workers", default="auto",
                    help="local worker processes per run, or auto (scireflect run's default: one per core from "
                         "concurrency 128 on 2 cores); with several, the CPU column includes their start-up "
                         "and verifier pools")
    ap.add_argument("--single-too", action=argparse.BooleanOptionalAction, default=True,
                    help="where auto picks several processes, also measure one process")
    ap.add_argument("--slow-latency-ms", type=float, default=2000.0,
                    help="then a second server at this latency (a real teacher's pace); 0 to skip")
    ap.add_argument("--slow-concurrency", type=int, nargs="+", default=[256])
    ap.add_argument("--slow-waves", type=float, default=4.0)
    args = ap.parse_args()

    plans = [(args.latency_ms, args.concurrency, args.waves, True)]
    if args.slow_latency_ms:
        plans.append((args.slow_latency_ms, args.slow_concurrency, args.slow_waves, False))
    last = []
    for latency_ms, concurrency, waves, with_baseline in plans:
        ratios = measure(args, latency_ms, concurrency, waves, with_baseline)
        last += [f"ideal_ratio_c{c}={ratios.get(c, float('nan')):.3f}" if latency_ms == args.latency_ms
                 else f"ideal_ratio_{latency_ms / 1000:g}s_c{c}={ratios.get(c, float('nan')):.3f}"
                 for c in concurrency if c >= 32]
    print(" ".join(last))


def measure(args: argparse.Namespace, latency_ms: float, concurrency: list[int], waves: float,
            with_baseline: bool) -> dict[int, float]:
    """One server at ``latency_ms``; a table row per concurrency; steady/ideal by concurrency."""
    from scireflect.graph.distributed import resolve_workers, run_loop
    from scireflect.settings import Settings
    from scireflect.testing.openai_server import ServerProcess

    lat = latency_ms / 1000
    workers = args.workers if args.workers == "auto" else int(args.workers)
    runs = []
    for c in concurrency:
        n = max(args.min_questions, int(waves * c))
        w = resolve_workers(workers, Settings(provider="openai", base_url="http://127.0.0.1:1/v1"), c, n)
        if w > 1 and args.single_too:
            runs.append((c, n, 1))
        # processes start one after another (imports, verifier pools: seconds each), so their steady state
        # needs a longer run to be measured apart from the start
        runs.append((c, n * 3 if w > 1 else n, w))
    total = sum(n for _, n, _ in runs) + 2 * max(concurrency) + args.min_questions
    qs_all = questions(total, args.mix, 0, args.unit)
    root = Path(tempfile.mkdtemp(prefix="scireflect-bench-"))
    script = root / "script.jsonl"
    script.write_text("".join(json.dumps(q.model_dump(mode="json")) + "\n" for q in qs_all))
    rows, ratios = [], {}
    base = base_calls = None
    with ServerProcess(latency_ms=latency_ms, script=str(script)) as srv:
        exclude = {srv.proc.pid}  # type: ignore[union-attr]
        pos = 0
        warm = qs_all[pos:pos + max(concurrency)]
        pos += len(warm)
        run_loop(batch(srv.url, warm, max(concurrency), root / "warm"))  # imports, verifier pool, sockets
        for c, n, w in runs:
            qs = qs_all[pos:pos + n]
            pos += n
            calls = sum(CALLS[q.metadata["outcome"]] for q in qs) / n
            ideal = c / (calls * lat)
            v0 = children_cpu(exclude)
            if w > 1:
                res = batch_processes(srv.url, qs, c, w, root / f"c{c}w{w}", max(CALLS.values()) * lat * 1.5)
                rate, cpu, vcpu = res["rate"], res["cpu"], float("nan")  # workers' CPU includes their verifiers
            else:
                res = run_loop(batch(srv.url, qs, c, root / f"c{c}w1"))
                rate, cpu, vcpu = steady_rate(res, max(CALLS.values()) * lat * 1.5), res["cpu"], children_cpu(exclude) - v0
            ratios[c] = rate / ideal  # the last configuration of c: what ``scireflect run`` picks
            rows.append((c, w, n, calls, ideal, rate, n / res["wall"], rate / ideal, cpu / n * 1000, vcpu / n * 1000))
        if with_baseline:
            base_qs = qs_all[pos:pos + args.min_questions]
            base_calls = sum(CALLS[q.metadata["outcome"]] for q in base_qs) / len(base_qs)
            base = run_loop(plain_loop(srv.url, base_qs, root / "plain"))
    print(f"latency {latency_ms:.0f} ms per call, mix {args.mix}, unit {args.unit or 'none'}, "
          f"{os.cpu_count()} CPUs, workers {args.workers}, "
          f"CPU check {cpu_check():.2f} s (about 1.6 s on the quiet development machine)")
    print("| concurrency | processes | questions | calls/question | ideal q/s | steady q/s | overall q/s "
          "| steady/ideal | orchestrator CPU ms/question | verifier CPU ms/question |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c, w, n, calls, ideal, rate, overall, ratio, cpu, vcpu in rows:
        print(f"| {c} | {w} | {n} | {calls:.2f} | {ideal:.1f} | {rate:.1f} | {overall:.1f} | {ratio:.2f} | {cpu:.1f} "
              f"| {vcpu:.1f} |")
    if base is not None and base_calls is not None:
        b_ideal = 1 / (base_calls * lat)
        print(f"| plain sequential loop | 1 | {args.min_questions} | {base_calls:.2f} | {b_ideal:.2f} | {base:.2f} | "
              f"{base:.2f} | {base / b_ideal:.2f} | - | - |")
    print()
    return ratios


if __name__ == "__main__":
    main()
