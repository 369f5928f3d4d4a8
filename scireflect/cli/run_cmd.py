"""``scireflect solve``, ``scireflect run`` and ``scireflect runs``: parse flags, delegate to the Pipeline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import (BaseUrlOpt, DebugOpt, HomeOpt, JsonOpt, ModelOpt, ProviderOpt, cli_errors,
                                   console, err_console, print_json, settings_from, setup_logging)
from scireflect.errors import InputError
from scireflect.schema import ACCEPTED_STATUSES, Question
from scireflect.settings import Settings

runs_app = typer.Typer(help="Past runs and their accounting.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

MaxRoundsOpt = Annotated[Optional[int], typer.Option("--max-rounds", help="reflection rounds without the answer")]
NoStage3Opt = Annotated[bool, typer.Option("--no-stage3", help="never show the reference answer (stage 3 off)")]
NoRetrievalOpt = Annotated[bool, typer.Option("--no-retrieval", help="do not ground the agents in textbooks")]


def _pipeline(settings: Settings, quiet: bool = False) -> Any:
    from scireflect.graph.pipeline import Pipeline
    from scireflect.llm import check_endpoint, endpoints
    from scireflect.store import open_stores

    if settings.provider == "openai":
        for url in endpoints(settings):
            check_endpoint(url)  # one clear line and exit 2 when the server does not answer
    setup_logging(settings)
    pipe = Pipeline(settings, open_stores(settings))
    gate = pipe.context.gate
    if not quiet and gate is not None and getattr(gate, "trained", True) is False:
        err_console.print("note: no quality classifier is trained in this workspace; the gate passes every "
                          "accepted trace (train one with `scireflect classifier train`)", style="dim",
                          highlight=False)
    return pipe


def _overrides(max_rounds: int | None, no_stage3: bool, no_retrieval: bool) -> dict[str, Any]:
    return {"max_rounds": max_rounds, "stage3": False if no_stage3 else None,
            "retrieval": False if no_retrieval else None}


@app.command()
@cli_errors
def solve(question: Annotated[str, typer.Argument(help="the question text")],
          answer: Annotated[str, typer.Option("--answer", help="the reference answer")],
          subject: Annotated[str, typer.Option("--subject")] = "general",
          qtype: Annotated[str, typer.Option("--type", help="numeric|symbolic|multiple_choice|free")] = "free",
          unit: Annotated[Optional[str], typer.Option("--unit", help="unit of the reference answer")] = None,
          choice: Annotated[Optional[list[str]], typer.Option("--choice", help="an option (repeat)")] = None,
          home: HomeOpt = None, provider: ProviderOpt = None, model: ModelOpt = None, base_url: BaseUrlOpt = None,
          max_rounds: MaxRoundsOpt = None, no_stage3: NoStage3Opt = False, no_retrieval: NoRetrievalOpt = False,
          as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Run one question through the graph; print the trace id and the outcome."""
    from pydantic import ValidationError

    from scireflect.questions import question_id_for

    settings = settings_from(home, provider, model, base_url, **_overrides(max_rounds, no_stage3, no_retrieval))
    try:
        q = Question(id=question_id_for(question), question=question, answer=answer, subject=subject,
                     type=qtype, unit=unit, choices=choice or None)  # type: ignore[arg-type]
    except ValidationError as e:
        raise InputError(f"invalid question: {e.errors()[0]['loc'][0]}: {e.errors()[0]['msg']}") from None
    trace = _pipeline(settings, quiet=as_json).run(q)
    if as_json:
        print_json({"id": trace.id, "status": trace.status, "reason": trace.reason, "stage": trace.stage,
                    "answer": trace.attempts[-1].extracted_answer if trace.attempts else None})
    else:
        console.print(f"trace [bold]{trace.id}[/bold]: {_status_text(trace.status)} ({trace.reason})")
        console.print(f"inspect it with: scireflect traces show {trace.id}", style="dim")
    raise typer.Exit(1 if trace.status == "error" else 0)


def _status_text(status: str) -> str:
    color = "green" if status in ACCEPTED_STATUSES else ("red" if status == "error" else "yellow")
    return f"[{color}]{status}[/{color}]"


EngineOpt = Annotated[str, typer.Option("--engine", help="local (asyncio, optionally several processes) or ray")]


def _workers(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 256:
        raise typer.BadParameter(f"{value!r} is not auto or a number from 1 to 256", param_hint="--workers")
    return n


@app.command()
@cli_errors
def run(file: Annotated[Path, typer.Argument(help="questions, one JSON object per line")],
        concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="questions in flight")] = 1,
        limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="only the first N questions")] = None,
        rerun: Annotated[bool, typer.Option("--rerun", help="run questions already finished in this version")] = False,
        engine: EngineOpt = "local",
        workers: Annotated[Optional[str], typer.Option(
            "--workers", help="worker processes (local) or Ray actors, or auto (default: one per core for "
            "large runs against HTTP endpoints at concurrency >= 64); questions are sharded by id")] = None,
        ray_address: Annotated[Optional[str], typer.Option(
            "--ray-address", help="Ray cluster to join (auto, ray://HOST:10001); default: a local cluster")] = None,
        no_dedup: Annotated[bool, typer.Option("--no-dedup", help="do not skip duplicate questions")] = False,
        home: HomeOpt = None, provider: ProviderOpt = None, model: ModelOpt = None, base_url: BaseUrlOpt = None,
        max_rounds: MaxRoundsOpt = None, no_stage3: NoStage3Opt = False, no_retrieval: NoRetrievalOpt = False,
        as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Run every question of a JSONL file; bad lines are reported and skipped, the rest run.

    Rerunning the same command resumes: finished questions are skipped, interrupted ones continue
    from their last checkpoint. Ctrl-C stops cleanly (exit 130) with in-flight questions checkpointed.
    """
    from scireflect.dedup import find_duplicates
    from scireflect.graph.distributed import run_batch
    from scireflect.questions import load_questions

    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"unknown engine {engine!r}; choose local or ray", param_hint="--engine")
    settings = settings_from(home, provider, model, base_url, workers=_workers(workers),
                             dedup=False if no_dedup else None,
                             **_overrides(max_rounds, no_stage3, no_retrieval))
    loaded = load_questions(file)
    for err in loaded.errors:
        err_console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
    questions = loaded.questions[:limit] if limit else loaded.questions
    duplicates = find_duplicates(questions, threshold=settings.dedup_threshold) if settings.dedup else {}
    pipe = _pipeline(settings, quiet=as_json)
    run_ = pipe.start_run(str(file))
    with _ProgressView(len(questions), quiet=as_json) as view:
        summary = run_batch(pipe, questions, run_, concurrency=concurrency, engine=engine,
                            workers=settings.workers, ray_address=ray_address, duplicates=duplicates,
                            skip_finished=not rerun, on_progress=view.update)
    summary.failed_inputs = len(loaded.errors)
    status = "interrupted" if summary.interrupted else "finished"
    pipe.finish_run(summary, status=status)
    _report(pipe, run_, summary, status, as_json)
    if summary.interrupted:
        raise typer.Exit(130)
    raise typer.Exit(1 if summary.errors + len(loaded.errors) else 0)


def _report(pipe: Any, run_: Any, summary: Any, status: str, as_json: bool) -> None:
    counts = summary.run.counts
    if as_json:
        print_json({"run_id": run_.id, "status": status, "pipeline_version": pipe.version, "counts": counts,
                    "tokens": summary.run.tokens, "cost_usd": summary.run.cost_usd})
    else:
        _print_summary(run_.id, counts, summary.run.tokens)
        if summary.run.cost_usd:
            console.print(f"estimated cost: ${summary.run.cost_usd:.4f}")
    if summary.interrupted:
        err_console.print(f"interrupted: {summary.in_flight} question(s) in flight were checkpointed; "
                          "run the same command again to resume", highlight=False, soft_wrap=True)


class _ProgressView:
    """A rich progress bar fed with the engine's counters (done, outcomes, questions/min, tokens/s)."""

    def __init__(self, total: int, quiet: bool):
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[tally]}"), TimeElapsedColumn(), console=err_console,
                                 disable=quiet, refresh_per_second=4)
        self.task = self.progress.add_task("annotating", total=total, tally="")
        self.t0 = time.monotonic()

    def __enter__(self) -> "_ProgressView":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def update(self, p: dict[str, Any]) -> None:
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        worked = p.get("done", 0) - p.get("skipped", 0)
        parts = [f"[green]accepted {p.get('accepted', 0)}[/green]", f"[yellow]rejected {p.get('rejected', 0)}[/yellow]",
                 f"[red]errors {p.get('errors', 0)}[/red]"]
        parts += [f"{k} {p[k]}" for k in ("duplicates", "skipped") if p.get(k)]
        parts.append(f"{worked / elapsed * 60:.1f} q/min  {p.get('tokens', 0) / elapsed:.0f} tok/s")
        self.progress.update(self.task, completed=p.get("done", 0), tally="  ".join(parts))


def _print_summary(run_id: str, counts: dict[str, int], tokens: dict[str, dict[str, int]]) -> None:
    table = Table(title=f"run {run_id}")
    table.add_column("outcome")
    table.add_column("questions", justify="right")
    for key in ("accepted_cot", "accepted_reflection", "accepted_with_answer", "gated_out", "rejected", "error",
                "duplicate", "skipped", "in_flight", "invalid_input"):
        if key in ("duplicate", "in_flight") and not counts.get(key):
            continue
        table.add_row(key, str(counts.get(key, 0)))
    console.print(table)
    if tokens:
        console.print("tokens: " + ", ".join(f"{a} {t['in']} in / {t['out']} out" for a, t in tokens.items()))


@runs_app.command("list")
@cli_errors
def runs_list(home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Past runs, newest first."""
    from scireflect.store import open_stores

    rows = open_stores(settings_from(home)).runs.list()
    if as_json:
        print_json(rows)
        return
    table = Table()
    for col in ("id", "started", "status", "input", "counts", "cost $"):
        table.add_column(col)
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in (r["counts"] or {}).items() if v)
        table.add_row(r["id"], str(r["started_at"])[:19], r["status"], str(r["input_path"] or ""), counts,
                      f"{r['cost_usd']:.4f}")
    console.print(table)


@runs_app.command("show")
@cli_errors
def runs_show(run_id: str, home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """One run: settings, counts per status, tokens per agent, estimated cost."""
    from scireflect.store import open_stores

    row = open_stores(settings_from(home)).runs.get(run_id)
    if row is None:
        raise InputError(f"no run with id {run_id!r}")
    if as_json:
        print_json(row)
        return
    console.print(f"[bold]run {row['id']}[/bold]  {row['status']}  pipeline {row['pipeline_version']}")
    console.print(f"input: {row['input_path']}  started {row['started_at']}  finished {row['finished_at']}")
    _print_summary(row["id"], row["counts"] or {}, row["tokens"] or {})
    rate = _rates(row)
    if rate:
        console.print(rate)
    console.print(f"estimated cost: ${row['cost_usd']:.4f}")


def _rates(row: dict[str, Any]) -> str:
    """Duration, questions/min and tokens/s of a finished run ('' while it runs)."""
    start, end = row.get("started_at"), row.get("finished_at")
    if not start or not end:
        return ""
    try:
        secs = (end - start).total_seconds()
    except TypeError:  # naive and aware datetimes from different drivers
        secs = (end.replace(tzinfo=None) - start.replace(tzinfo=None)).total_seconds()
    counts = row.get("counts") or {}
    worked = sum(v for k, v in counts.items() if k not in ("skipped", "invalid_input", "in_flight"))
    tokens = sum(t.get("in", 0) + t.get("out", 0) for t in (row.get("tokens") or {}).values())
    secs = max(secs, 1e-6)
    return f"duration {secs:.1f} s, {worked / secs * 60:.1f} questions/min, {tokens / secs:.0f} tokens/s"
