"""Run one evaluation: load the benchmark, build prompts, generate, score each output with the
answer verifier as it arrives, append it to the run's items file, and summarize with Wilson CIs.

A run's name is derived from everything that changes its outputs, so rerunning the same command
resumes it: items already scored are skipped, items that failed to generate are tried again. When a
session ends the run is also written in lm-evaluation-harness's shape (``results.json``, samples).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from scireflect.errors import ConfigError
from scireflect.evaluation.backends import Activity, Backend, Generation, make_backend
from scireflect.evaluation.benchmarks import Benchmark, load_benchmark
from scireflect.evaluation.prompts import PromptBuilder
from scireflect.evaluation.results import HARNESS_RESULTS, EvalStore, harness_results, slug
from scireflect.evaluation.scoring import score
from scireflect.evaluation.stats import summarize
from scireflect.schema import Question, utcnow
from scireflect.settings import Settings


@dataclass
class Status:
    """Where a run stands, for a progress display; ``activity()`` and ``eta_s()`` may be read from
    another thread while the run goes on."""

    total: int
    done: int = 0  # items scored or failed, including those stored by earlier sessions
    resumed: int = 0  # of them, done before this session
    started: float = field(default_factory=time.monotonic)
    backend: Backend | None = None

    def activity(self) -> Activity:
        return self.backend.activity() if self.backend else Activity()

    def rate(self, partial: float = 0.0) -> float | None:
        """Items per second in this session (work on items in flight counted in part)."""
        elapsed, progressed = time.monotonic() - self.started, self.done - self.resumed + partial
        return progressed / elapsed if elapsed > 0 and progressed > 0 else None

    def eta_s(self, partial: float | None = None) -> float | None:
        partial = self.activity().partial if partial is None else partial
        rate = self.rate(partial)
        return max(0.0, self.total - self.done - partial) / rate if rate else None


Progress = Callable[[Status], None]


@dataclass
class EvalConfig:
    benchmark: str
    provider: str = "llamacpp"
    format: str | None = None
    adapter: str | None = None
    limit: int | None = None
    shots: int = 0
    style: str = "cot"
    concurrency: int | None = None
    run: str | None = None
    fresh: bool = False


def _config_digest(bench: Benchmark, backend: dict[str, Any], prompt: dict[str, Any]) -> str:
    # Everything that changes what the model is asked or how it answers; not concurrency or endpoints.
    adapter = backend.get("adapter")
    keys = {"benchmark": bench.digest(), "provider": backend["provider"], "model": backend.get("model"),
            "adapter": adapter.get("path") if isinstance(adapter, dict) else None,
            "temperature": backend.get("temperature"), "max_tokens": backend.get("max_tokens"),
            "seed": backend.get("seed"), "style": prompt["style"], "shots": prompt["shots"],
            "templates": prompt["templates_digest"]}
    return hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()[:8]


def default_run_id(bench: Benchmark, backend: dict[str, Any], prompt: dict[str, Any], digest: str) -> str:
    model = Path(str(backend.get("model") or "model")).stem
    adapter = backend.get("adapter")
    parts = [slug(bench.name), backend["provider"], slug(model)]
    if isinstance(adapter, dict):
        parts.append(slug(Path(adapter["path"]).name))
    parts += [f"{prompt['style']}{prompt['shots']}shot", digest]
    return "-".join(parts)


def _record(q: Question, msgs: list[dict[str, str]], gen: Generation) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": q.id, "subject": q.subject, "format": q.metadata.get("format"), "type": q.type,
                           "prompt": msgs, "output": gen.text, "tokens_in": gen.tokens_in,
                           "tokens_out": gen.tokens_out, "latency_s": round(gen.latency_s, 4)}
    if gen.error:
        return {**rec, "ok": None, "error": gen.error}
    scored = score(q, gen.text)
    v = scored["verdict"]
    return {**rec, "extracted": scored["extracted"], "compared": scored["compared"], "gold": scored["gold"],
            "ok": bool(v["ok"]), "reason": v["reason"], "verdict": v}


def prepare(settings: Settings, cfg: EvalConfig) -> tuple[Benchmark, list[Question], PromptBuilder]:
    """Load and check everything that can fail before a model is loaded."""
    if cfg.limit is not None and cfg.limit < 1:
        raise ConfigError("--limit must be at least 1")
    bench = load_benchmark(cfg.benchmark, settings, cfg.format)
    if cfg.shots and not bench.dev:
        raise ConfigError(f"--shots {cfg.shots} needs a dev split, and benchmark {bench.name!r} has none "
                          "(dev files are named NAME.dev.jsonl, NAME_dev.csv or NAME_sol.json, or sit in dev/)")
    builder = PromptBuilder(style=cfg.style, shots=cfg.shots, seed=settings.seed, dev=tuple(bench.dev),
                            settings=settings)
    items = bench.items[: cfg.limit] if cfg.limit else bench.items
    return bench, items, builder


def evaluate(settings: Settings, cfg: EvalConfig, progress: Progress | None = None,
             backend: Backend | None = None) -> dict[str, Any]:
    """Evaluate and return the run's metadata with its summary. ``backend`` overrides the provider."""
    bench, items, builder = prepare(settings, cfg)
    backend = backend or make_backend(cfg.provider, settings, concurrency=cfg.concurrency, adapter=cfg.adapter)
    desc, prompt = backend.describe(), builder.describe()
    digest = _config_digest(bench, desc, prompt)
    store = EvalStore(settings)
    run_id = cfg.run or default_run_id(bench, desc, prompt, digest)
    meta = _open_run(store, run_id, digest, cfg.fresh)
    meta.update(id=run_id, config_digest=digest, status="running", updated_at=utcnow().isoformat(),
                benchmark={"name": bench.name, "path": str(bench.path), "digest": bench.digest(),
                           "formats": bench.formats, "items": len(bench.items), "dev_items": len(bench.dev),
                           "files": bench.files, "skipped": [str(e) for e in bench.errors]},
                backend=desc, prompt=prompt, limit=cfg.limit, settings=settings.snapshot())
    meta.setdefault("started_at", utcnow().isoformat())
    store.write_meta(run_id, meta)

    records = store.read_items(run_id)
    todo = [q for q in items if records.get(q.id, {}).get("ok") is None]
    by_id = {q.id: q for q in todo}
    messages = {q.id: builder.messages(q) for q in todo}
    state = Status(total=len(items), done=len(items) - len(todo), resumed=len(items) - len(todo), backend=backend)
    generated = 0

    def on_done(item_id: str, gen: Generation) -> None:
        nonlocal generated
        rec = _record(by_id[item_id], messages[item_id], gen)
        store.append(run_id, rec)
        records[item_id] = rec
        state.done += 1
        generated += 1
        if progress:
            progress(state)

    if todo:
        # The verifier's worker pool starts on first use; start it before the clock, like the model.
        from scireflect.tools.verifiers.pool import get_pool

        get_pool().wait_ready()
    t0, status = time.perf_counter(), "interrupted"
    state.started = time.monotonic()
    if progress:
        progress(state)
    try:
        backend.run([(q.id, messages[q.id]) for q in todo], on_done)
        status = "finished"
    finally:
        elapsed = time.perf_counter() - t0
        meta.update(_finish(records, items, status, generated, elapsed))
        meta["lm_eval_results"] = str(store.dir(run_id) / HARNESS_RESULTS)
        store.write_meta(run_id, meta)
        # The same items as the summary: this run's, and any an earlier session with a larger --limit scored.
        ids = {q.id for q in items} | records.keys()
        originals = Counter(q.subject or "general" for q in bench.items)
        store.write_harness(run_id, *harness_results(meta, [q for q in bench.items if q.id in ids], records,
                                                     originals))
    return meta


def _open_run(store: EvalStore, run_id: str, digest: str, fresh: bool) -> dict[str, Any]:
    if not store.exists(run_id):
        return {}
    if fresh:
        store.remove(run_id)
        return {}
    meta = store.read_meta(run_id)
    if meta.get("config_digest") != digest:
        raise ConfigError(f"evaluation run {run_id!r} exists with different settings (benchmark, model, adapter, "
                          "prompt or generation options); use --fresh to start it over or --run to name a new one")
    return meta


def _finish(records: dict[str, dict[str, Any]], items: list[Question], status: str, generated: int,
            elapsed: float) -> dict[str, Any]:
    ids = {q.id for q in items}
    failed = sorted(i for i in ids if i in records and records[i].get("ok") is None)
    unscored = [i for i in ids if records.get(i, {}).get("ok") is None]
    if status == "finished" and unscored:
        status = "incomplete"
    return {"status": status, "updated_at": utcnow().isoformat(),
            "finished_at": utcnow().isoformat() if status == "finished" else None,
            "counts": {"items": len(items), "scored": len(items) - len(unscored), "failed": len(failed)},
            "failed_items": failed[:50],
            "summary": summarize(records.values()),
            "timing": {"generated": generated, "elapsed_s": round(elapsed, 3),
                       "items_per_s": round(generated / elapsed, 4) if elapsed > 0 and generated else None}}

