"""Batch engines: one process (asyncio), several local worker processes, or actors on a Ray cluster.

Every engine runs the same per-question function (``Pipeline.arun_batch``) over a shard of the
questions, chosen by a stable hash of the question id, so a rerun sends each question to the worker
(and, with SQLite, the checkpoint file) that had it. Workers write to one store: the workspace's
SQLite file on one machine, PostgreSQL across machines. The driver creates the run, shows progress,
turns Ctrl-C into a clean stop and writes the run's accounting once at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
from collections import Counter
from typing import Any, Callable

from scireflect.errors import ConfigError, missing_dependency
from scireflect.graph.pipeline import Pipeline, RunSummary
from scireflect.schema import Question, Run
from scireflect.settings import Settings

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], None]
TICK_S = 0.5
COUNTERS = ("total", "done", "accepted", "gated_out", "rejected", "errors", "skipped", "duplicates", "tokens")


def shard_of(question_id: str, n: int) -> int:
    """Stable across processes and runs (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(question_id.encode(), digest_size=8).digest(), "big") % n


def shards(questions: list[Question], n: int) -> list[list[Question]]:
    out: list[list[Question]] = [[] for _ in range(n)]
    for q in questions:
        out[shard_of(q.id, n)].append(q)
    return out


def run_loop(coro: Any) -> Any:
    """Run a coroutine on uvloop when it is installed (cheaper per wake-up), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _merge(run: Run, parts: list[dict[str, Any]]) -> RunSummary:
    summary = RunSummary(run=run)
    for p in parts:
        summary.counts.update(Counter(p.get("counts") or {}))
        summary.skipped += int(p.get("skipped", 0))
        summary.in_flight += int(p.get("in_flight", 0))
        summary.changed += list(p.get("changed") or [])
        summary.retried += int(p.get("retried", 0))
        summary.interrupted = summary.interrupted or bool(p.get("interrupted"))
    return summary


def _summary_dict(s: RunSummary) -> dict[str, Any]:
    return {"counts": dict(s.counts), "skipped": s.skipped, "in_flight": s.in_flight, "interrupted": s.interrupted,
            "changed": list(s.changed), "retried": s.retried}


def _sum_progress(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: sum(int(p.get(k, 0)) for p in parts) for k in COUNTERS}


AUTO_MIN_CONCURRENCY = 64  # questions in flight per process before another process pays off
AUTO_MIN_QUESTIONS = 500  # below this a process's start-up (imports, verifier pool: ~3 s) is not worth it


def resolve_workers(workers: int | str, settings: Settings, concurrency: int, n_questions: int,
                    cores: int | None = None) -> int:
    """The number of processes (or Ray actors) for ``workers`` (an int, or ``"auto"``).

    ``auto``: one process per available core (``cores``; default: this machine's, a Ray cluster passes
    its CPU count), at most one per 64 questions in flight, for runs of 500 questions or more against HTTP
    endpoints; otherwise 1. One process's event loop drives about 150 to 200 questions/s (5 to 6 ms of
    CPU each, most of it LangGraph and its checkpoints; bench/throughput.py), which a fast endpoint at high
    concurrency exceeds; an in-process model (llamacpp) gains nothing.
    """
    if workers != "auto":
        return max(1, int(workers))
    if settings.provider != "openai" or n_questions < AUTO_MIN_QUESTIONS:
        return 1
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - macOS, Windows
            cores = os.cpu_count() or 1
    return max(1, min(cores, concurrency // AUTO_MIN_CONCURRENCY))


def run_batch(pipe: Pipeline, questions: list[Question], run: Run, *, concurrency: int = 1, engine: str = "local",
              workers: int | str = 1, ray_address: str | None = None, duplicates: dict[str, Any] | None = None,
              skip_finished: bool = True, on_progress: ProgressFn | None = None) -> RunSummary:
    """Run a batch with the chosen engine; returns the merged summary (the caller finishes the run).
    ``workers``: processes (local) or actors (ray), or ``"auto"`` (see ``resolve_workers``)."""
    if engine == "ray":  # "auto" is sized by the cluster's CPUs once connected
        return run_ray(pipe.settings, questions, run, concurrency=concurrency, workers=workers,
                       address=ray_address, duplicates=duplicates, skip_finished=skip_finished,
                       on_progress=on_progress)
    if engine != "local":
        raise ConfigError(f"unknown engine {engine!r}; choose local or ray")
    workers = resolve_workers(workers, pipe.settings, concurrency, len(questions))
    if workers > 1:
        return run_processes(pipe.settings, questions, run, concurrency=concurrency, workers=workers,
                             duplicates=duplicates, skip_finished=skip_finished, on_progress=on_progress)
    return run_loop(_in_process(pipe, questions, run, concurrency, duplicates, skip_finished, on_progress))


async def _in_process(pipe: Pipeline, questions: list[Question], run: Run, concurrency: int,
                      duplicates: dict[str, Any] | None, skip_finished: bool,
                      on_progress: ProgressFn | None) -> RunSummary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = _on_sigint(loop, stop)

    async def tick() -> None:
        while True:
            await asyncio.sleep(TICK_S)
            if on_progress is not None:
                on_progress(pipe.progress.snapshot())

    ticker = asyncio.create_task(tick())
    try:
        return await pipe.arun_batch(questions, run, concurrency=concurrency, stop=stop, duplicates=duplicates,
                                     skip_finished=skip_finished, finish=False)
    finally:
        ticker.cancel()
        if handled:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
        if on_progress is not None:
            on_progress(pipe.progress.snapshot())


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and what service managers and `kill` send


def _on_sigint(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> bool:
    """Ctrl-C or SIGTERM sets ``stop`` (in-flight questions are cancelled at their last checkpoint)."""
    try:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        return True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        return False


# --- a shard in a worker (a local process or a Ray actor) --------------------------------------

class ShardRunner:
    """Builds its own stores and Pipeline from the driver's settings and runs one shard."""

    def __init__(self, settings: dict[str, Any]):
        self.settings = Settings(**settings)
        self.pipe: Pipeline | None = None
        self.stop_event: asyncio.Event | None = None

    async def run(self, questions: list[dict[str, Any]], run: dict[str, Any], concurrency: int, worker: str,
                  duplicates: dict[str, Any], skip_finished: bool) -> dict[str, Any]:
        from scireflect.dedup import Duplicate
        from scireflect.store import open_stores

        stores = await asyncio.to_thread(open_stores, self.settings)
        try:
            self.pipe = Pipeline(self.settings, stores)
            self.stop_event = self.stop_event or asyncio.Event()
            dups = {k: Duplicate(**v) for k, v in duplicates.items()}
            summary = await self.pipe.arun_batch(
                [Question.model_validate(q) for q in questions], Run.model_validate(run),
                concurrency=concurrency, stop=self.stop_event, duplicates=dups, worker=worker,
                skip_finished=skip_finished, finish=False)
            return _summary_dict(summary)
        finally:
            stores.close()

    def progress(self) -> dict[str, Any]:
        return self.pipe.progress.snapshot() if self.pipe is not None else {}

    def stop(self) -> None:
        if self.stop_event is None:
            self.stop_event = asyncio.Event()
        self.stop_event.set()


def _payload(settings: Settings, questions: list[Question], run: Run,
             duplicates: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], dict]:
    import dataclasses

    data = settings.model_dump(mode="json")
    data["home"] = str(settings.home.resolve())  # workers may start in another directory
    data["workers"] = 1
    qs = [q.model_dump(mode="json") for q in questions]
    dups = {k: dataclasses.asdict(v) for k, v in (duplicates or {}).items()}
    return data, qs, run.model_dump(mode="json"), dups


# --- local worker processes ------------------------------------------------------------------

def _process_main(settings: dict[str, Any], questions: list[dict[str, Any]], run: dict[str, Any], concurrency: int,
                  worker: str, duplicates: dict[str, Any], skip_finished: bool, out: Any, stop: Any) -> None:
    """Entry point of a worker process: run the shard, report progress and the result on ``out``."""
    import os

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when to stop
    parent = os.getppid()
    runner = ShardRunner(settings)

    async def main() -> dict[str, Any]:
        job = asyncio.create_task(runner.run(questions, run, concurrency, worker, duplicates, skip_finished))
        while not job.done():
            await asyncio.wait({job}, timeout=TICK_S)
            out.put(("progress", worker, runner.progress()))
            if stop.is_set() or os.getppid() != parent:  # asked to, or the driver died: stop at checkpoints
                runner.stop()
        return job.result()

    try:
        out.put(("done", worker, run_loop(main())))
    except BaseException as e:  # noqa: BLE001 - reported to the driver, which decides the exit code
        out.put(("failed", worker, f"{type(e).__name__}: {e}"))


def run_processes(settings: Settings, questions: list[Question], run: Run, *, concurrency: int, workers: int,
                  duplicates: dict[str, Any] | None = None, skip_finished: bool = True,
                  on_progress: ProgressFn | None = None) -> RunSummary:
    """``workers`` local processes, each with ``concurrency / workers`` questions in flight."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    data, qs, run_d, dups = _payload(settings, questions, run, duplicates)
    parts = shards([Question.model_validate(q) for q in qs], workers)
    out, stop = ctx.Queue(), ctx.Event()
    per = max(1, -(-concurrency // workers))
    procs = []
    for i, part in enumerate(parts):
        shard_qs = [q.model_dump(mode="json") for q in part]
        shard_dups = {k: v for k, v in dups.items() if shard_of(k, workers) == i}
        p = ctx.Process(target=_process_main, name=f"scireflect-worker-{i}",
                        args=(data, shard_qs, run_d, per, f"proc{i}", shard_dups, skip_finished, out, stop))
        p.start()
        procs.append(p)
    return _collect_processes(procs, out, stop, run, on_progress)


def _collect_processes(procs: list[Any], out: Any, stop: Any, run: Run, on_progress: ProgressFn | None) -> RunSummary:
    import queue as _queue

    progress: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    pending = len(procs)
    while pending:
        try:
            kind, worker, data = out.get(timeout=TICK_S)
        except _queue.Empty:
            if not any(p.is_alive() for p in procs) and out.empty():
                failures.append("a worker process died without reporting")
                break
            continue
        except KeyboardInterrupt:
            stop.set()  # workers cancel their in-flight questions at the last checkpoint and report
            continue
        if kind == "progress":
            progress[worker] = data
            if on_progress is not None:
                on_progress(_sum_progress(list(progress.values())))
        else:
            pending -= 1
            if kind == "done":
                results[worker] = data
            else:
                failures.append(f"{worker}: {data}")
    for p in procs:
        p.join(timeout=30)
    if failures:
        from scireflect.errors import StoreError

        raise StoreError("worker failed: " + "; ".join(failures))
    summary = _merge(run, list(results.values()))
    summary.interrupted = summary.interrupted or stop.is_set()
    return summary


# --- Ray -----------------------------------------------------------------------------------

def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise missing_dependency("ray", "ray") from e
    return ray


def run_ray(settings: Settings, questions: list[Question], run: Run, *, concurrency: int, workers: int | str,
            address: str | None = None, duplicates: dict[str, Any] | None = None, skip_finished: bool = True,
            on_progress: ProgressFn | None = None, num_cpus: float = 1.0) -> RunSummary:
    """One Ray actor per shard. ``address``: an existing cluster (``auto``, ``ray://HOST:10001``) or
    None for a local one. Across machines, use a PostgreSQL store (``SCIREFLECT_DATABASE_URL``).
    ``workers="auto"`` counts the cluster's CPUs (this machine's for a local cluster)."""
    ray = _ray()
    from scireflect.graph.checkpoints import is_postgres

    if address and not is_postgres(settings.db_url):
        log.warning("a Ray cluster with a SQLite store works on one machine only; use PostgreSQL across nodes")
    started = not ray.is_initialized()
    if workers != "auto" or (started and not address):  # a local cluster is started for this many
        workers = resolve_workers(workers, settings, concurrency, len(questions))
    if started:
        try:
            ray.init(address=address, num_cpus=None if address else max(workers, 1), include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        except Exception as e:  # noqa: BLE001 - connection refused, bad address, version mismatch
            raise ConfigError(f"cannot connect to the Ray cluster at {address or 'local'}: {e}") from e
    try:
        if not isinstance(workers, int):  # "auto" on a running cluster: as many actors as its CPUs hold
            cpus = int(ray.cluster_resources().get("CPU", 1) // max(num_cpus, 1e-9))
            workers = resolve_workers(workers, settings, concurrency, len(questions), cores=max(1, cpus))
        return _ray_shards(ray, settings, questions, run, concurrency, workers, duplicates, skip_finished,
                           on_progress, num_cpus)
    finally:
        if started:
            ray.shutdown()


def _ray_shards(ray: Any, settings: Settings, questions: list[Question], run: Run, concurrency: int, workers: int,
                duplicates: dict[str, Any] | None, skip_finished: bool, on_progress: ProgressFn | None,
                num_cpus: float) -> RunSummary:
    data, _, run_d, dups = _payload(settings, [], run, duplicates)
    Actor = ray.remote(num_cpus=num_cpus, max_concurrency=16)(_RayShard)
    per = max(1, -(-concurrency // workers))
    actors, jobs = [], []
    for i, part in enumerate(shards(questions, workers)):
        a = Actor.remote(data)
        shard_dups = {k: v for k, v in dups.items() if shard_of(k, workers) == i}
        jobs.append(a.run.remote([q.model_dump(mode="json") for q in part], run_d, per, f"ray{i}", shard_dups,
                                 skip_finished))
        actors.append(a)
    interrupted = False
    pending = list(jobs)
    while pending:
        try:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=TICK_S)
            if on_progress is not None:
                on_progress(_sum_progress(ray.get([a.progress.remote() for a in actors])))
        except KeyboardInterrupt:
            interrupted = True
            ray.get([a.stop.remote() for a in actors])
    try:
        parts = ray.get(jobs)
    except Exception as e:  # noqa: BLE001 - RayTaskError wraps the worker's exception
        from scireflect.errors import StoreError

        raise StoreError(f"ray worker failed: {e}") from e
    summary = _merge(run, parts)
    summary.interrupted = summary.interrupted or interrupted
    return summary


class _RayShard:
    """The Ray actor: a ShardRunner in the actor's event loop (async methods run concurrently)."""

    def __init__(self, settings: dict[str, Any]):
        self.runner = ShardRunner(settings)

    async def run(self, *args: Any) -> dict[str, Any]:
        return await self.runner.run(*args)

    async def progress(self) -> dict[str, Any]:
        return self.runner.progress()

    async def stop(self) -> None:
        self.runner.stop()
