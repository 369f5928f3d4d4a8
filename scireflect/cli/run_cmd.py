"""``scireflect solve``, ``scireflect run`` and ``scireflect runs``: parse flags, delegate to the Pipeline."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import (BaseUrlOpt, DebugOpt, HomeOpt, JsonOpt, ModelOpt, ProviderOpt, cli_errors,
                                   console, err_console, print_json, settings_from, setup_logging)
from scireflect.errors import InputError
from scireflect.schema import ACCEPTED_STATUSES, Question, Trace
from scireflect.settings import Settings

runs_app = typer.Typer(help="Past runs and their accounting.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

MaxRoundsOpt = Annotated[Optional[int], typer.Option("--max-rounds", help="reflection rounds without the answer")]
NoStage3Opt = Annotated[bool, typer.Option("--no-stage3", help="never show the reference answer (stage 3 off)")]
NoRetrievalOpt = Annotated[bool, typer.Option("--no-retrieval", help="do not ground the agents in textbooks")]


def _pipeline(settings: Settings) -> Any:
    from scireflect.graph.pipeline import Pipeline
    from scireflect.llm import check_endpoint, endpoints
    from scireflect.store import open_stores

    if settings.provider == "openai":
        for url in endpoints(settings):
            check_endpoint(url)  # one clear line and exit 2 when the server does not answer
    setup_logging(settings)
    return Pipeline(settings, open_stores(settings))


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
    trace = _pipeline(settings).run(q)
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


@app.command()
@cli_errors
def run(file: Annotated[Path, typer.Argument(help="questions, one JSON object per line")],
        concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="questions in flight")] = 1,
        limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="only the first N questions")] = None,
        rerun: Annotated[bool, typer.Option("--rerun", help="run questions already finished in this version")] = False,
        home: HomeOpt = None, provider: ProviderOpt = None, model: ModelOpt = None, base_url: BaseUrlOpt = None,
        max_rounds: MaxRoundsOpt = None, no_stage3: NoStage3Opt = False, no_retrieval: NoRetrievalOpt = False,
        as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Run every question of a JSONL file; bad lines are reported and skipped, the rest run."""
    from scireflect.questions import load_questions

    settings = settings_from(home, provider, model, base_url, **_overrides(max_rounds, no_stage3, no_retrieval))
    loaded = load_questions(file)
    for err in loaded.errors:
        err_console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
    questions = loaded.questions[:limit] if limit else loaded.questions
    pipe = _pipeline(settings)
    run_ = pipe.start_run(str(file))
    summary = _run_with_progress(pipe, questions, run_, concurrency, rerun, quiet=as_json)
    summary.failed_inputs = len(loaded.errors)
    pipe.finish_run(summary)
    counts = summary.run.counts
    if as_json:
        print_json({"run_id": run_.id, "pipeline_version": pipe.version, "counts": counts,
                    "tokens": summary.run.tokens, "cost_usd": summary.run.cost_usd})
    else:
        _print_summary(run_.id, counts, summary.run.tokens)
    failed = summary.errors + len(loaded.errors)
    raise typer.Exit(1 if failed else 0)


def _run_with_progress(pipe: Any, questions: list[Question], run_: Any, concurrency: int, rerun: bool,
                       quiet: bool) -> Any:
    tally = {"accepted": 0, "rejected": 0, "error": 0, "skipped": 0}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[tally]}"), TimeElapsedColumn(), console=err_console,
                  disable=quiet) as progress:
        task = progress.add_task("annotating", total=len(questions), tally="")

        def done(trace: Trace) -> None:
            key = ("skipped" if trace.run_id != run_.id else
                   "accepted" if trace.status in ACCEPTED_STATUSES else trace.status)
            tally[key] = tally.get(key, 0) + 1
            progress.update(task, advance=1, tally="  ".join(f"{k} {v}" for k, v in tally.items() if v))

        return asyncio.run(pipe.arun_batch(questions, run_, concurrency=concurrency, on_done=done,
                                           skip_finished=not rerun))


def _print_summary(run_id: str, counts: dict[str, int], tokens: dict[str, dict[str, int]]) -> None:
    table = Table(title=f"run {run_id}")
    table.add_column("outcome")
    table.add_column("questions", justify="right")
    for key in ("accepted_cot", "accepted_reflection", "accepted_with_answer", "rejected", "error", "skipped",
                "invalid_input"):
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
    console.print(f"estimated cost: ${row['cost_usd']:.4f}")
