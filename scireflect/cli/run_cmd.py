"""``scireflect solve``, ``scireflect run`` and ``scireflect runs``: parse flags, delegate to the Pipeline."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import (BaseUrlOpt, DebugOpt, HomeOpt, JsonOpt, ModelOpt, ProviderOpt, cli_errors,
                                   console, err_console, print_json, print_rows, settings_from, setup_logging)
from scireflect.errors import InputError
from scireflect.schema import ACCEPTED_STATUSES, Question
from scireflect.settings import Settings

runs_app = typer.Typer(help="Past runs and their accounting.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

MaxRoundsOpt = Annotated[Optional[int], typer.Option("--max-rounds", help="reflection rounds without the answer")]
NoStage3Opt = Annotated[bool, typer.Option("--no-stage3", help="never show the reference answer (stage 3 off)")]
NoRetrievalOpt = Annotated[bool, typer.Option("--no-retrieval", help="do not ground the agents in textbooks")]
# Generation and verification (settings max_tokens, temperature, seed, verifiers; see scireflect/settings.py).
MaxTokensOpt = Annotated[Optional[int], typer.Option(
    "--max-tokens", min=1, help="tokens per model call [default: 256 for the embedded model, 1024 otherwise]")]
TemperatureOpt = Annotated[Optional[float], typer.Option(
    "--temperature", min=0.0, max=2.0, help="sampling temperature, 0 = greedy [default: 0.2]")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="sampling seed [default: 0]")]
VerifierOpt = Annotated[Optional[list[str]], typer.Option(
    "--verifier", metavar="NAME", help="run only these verifiers (repeat; see `scireflect verifiers list`) "
    "[default: the built-in ones that apply; plugins run only when named]")]
ThreadsOpt = Annotated[Optional[int], typer.Option(
    "--threads", min=1, help="CPU threads of the in-process model (llama.cpp) [default: the physical cores, "
    "shared among worker processes, less the machine's other load]")]


def _pipeline(settings: Settings, quiet: bool = False) -> Any:
    from scireflect.graph.pipeline import Pipeline
    from scireflect.llm import check_endpoint, endpoints
    from scireflect.store import open_stores

    if settings.provider == "openai":
        for url in endpoints(settings):
            check_endpoint(url)  # one clear line and exit 2 when the server does not answer
    setup_logging(settings)
    with _loading(settings, quiet):
        pipe = Pipeline(settings, open_stores(settings))
    gate = pipe.context.gate
    if not quiet and gate is not None and getattr(gate, "trained", True) is False:
        err_console.print("note: no quality classifier is trained in this workspace; the gate passes every "
                          "accepted trace (train one with `scireflect classifier train`)", style="dim",
                          highlight=False, soft_wrap=True)
    if not quiet and settings.verifiers is not None and "answer" not in settings.verifiers:
        err_console.print("note: --verifier replaces the default verifiers; the final answer is not checked "
                          "unless `answer` is named too", style="dim", highlight=False, soft_wrap=True)
    return pipe


@contextlib.contextmanager
def _loading(settings: Settings, quiet: bool) -> Iterator[None]:
    """A status line while the pipeline loads an in-process model (seconds to minutes); nothing to
    announce for HTTP endpoints."""
    if quiet or settings.provider != "llamacpp":
        yield
        return
    what = f"loading the model {Path(settings.model).name if settings.model else '(embedded SmolLM2-135M)'}"
    if not err_console.is_terminal:
        err_console.print(what, highlight=False, markup=False)
        yield
        return
    with err_console.status(escape(what), spinner="dots"):
        yield


def _overrides(max_rounds: int | None, no_stage3: bool, no_retrieval: bool, max_tokens: int | None = None,
               temperature: float | None = None, seed: int | None = None, verifier: list[str] | None = None,
               threads: int | None = None) -> dict[str, Any]:
    """Settings from flags; None means "not given" (the environment, scireflect.toml or the default wins)."""
    return {"max_rounds": max_rounds, "stage3": False if no_stage3 else None,
            "retrieval": False if no_retrieval else None, "max_tokens": max_tokens, "temperature": temperature,
            "seed": seed, "verifiers": list(dict.fromkeys(verifier)) if verifier else None, "n_threads": threads}


@app.command()
@cli_errors
def solve(question: Annotated[str, typer.Argument(help="the question text")],
          answer: Annotated[str, typer.Option("--answer", help="the reference answer")],
          subject: Annotated[str, typer.Option("--subject")] = "general",
          qtype: Annotated[str, typer.Option("--type", help="numeric|symbolic|multiple_choice|free")] = "free",
          unit: Annotated[Optional[str], typer.Option("--unit", help="unit of the reference answer")] = None,
          choice: Annotated[Optional[list[str]], typer.Option("--choice", metavar="TEXT",
                                                              help="an option (repeat)")] = None,
          home: HomeOpt = None, provider: ProviderOpt = None, model: ModelOpt = None, base_url: BaseUrlOpt = None,
          max_rounds: MaxRoundsOpt = None, no_stage3: NoStage3Opt = False, no_retrieval: NoRetrievalOpt = False,
          max_tokens: MaxTokensOpt = None, temperature: TemperatureOpt = None, seed: SeedOpt = None,
          verifier: VerifierOpt = None, threads: ThreadsOpt = None,
          as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Run one question through the graph; print the trace id and the outcome.

    Each step is shown on stderr as it finishes (a live line with the running step's time on a terminal);
    --json prints only the result on stdout.
    """
    from pydantic import ValidationError

    from scireflect.questions import question_id_for

    settings = settings_from(home, provider, model, base_url, **_overrides(
        max_rounds, no_stage3, no_retrieval, max_tokens, temperature, seed, verifier, threads))
    settings = _with_threads(settings, processes=1)
    try:
        q = Question(id=question_id_for(question), question=question, answer=answer, subject=subject,
                     type=qtype, unit=unit, choices=choice or None)  # type: ignore[arg-type]
    except ValidationError as e:
        raise InputError(f"invalid question: {e.errors()[0]['loc'][0]}: {e.errors()[0]['msg']}") from None
    quiet = as_json and not err_console.is_terminal
    pipe = _pipeline(settings, quiet=quiet)
    with _StepView(quiet=quiet) as view:
        trace = pipe.run(q, on_step=view.step)
    if as_json:
        print_json({"id": trace.id, "status": trace.status, "reason": trace.reason, "stage": trace.stage,
                    "answer": trace.attempts[-1].extracted_answer if trace.attempts else None})
    else:
        console.print(f"trace [bold]{escape(trace.id)}[/bold]: {_status_text(trace.status)} ({escape(trace.reason)})",
                      highlight=False, soft_wrap=True)
        console.print(f"inspect it with: scireflect traces show {escape(trace.id)}", style="dim", highlight=False)
    raise typer.Exit(1 if trace.status == "error" else 0)


class _StepView:
    """``solve``'s progress on stderr: a line per step as it finishes; on a terminal, below them a live
    line with the step in progress and its seconds (so a call waiting on a slow endpoint shows); without
    a terminal, plain lines only, and one every ``PLAIN_EVERY_S`` while a step runs that long."""

    PLAIN_EVERY_S = 30.0

    def __init__(self, quiet: bool = False, console: Any = None):
        self.console = console or err_console
        self.quiet, self.live = quiet, self.console.is_terminal
        self.running, self.since = "starting", time.monotonic()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._status: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "_StepView":
        if not self.quiet:
            if self.live:
                self._status = self.console.status(self._label(), spinner="dots")
                self._status.start()
            self._thread = threading.Thread(target=self._tick, name="solve-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._status is not None:
            self._status.stop()

    def step(self, kind: str, what: Any) -> None:
        """Pipeline.run's on_step: ("start", node name) or ("event", Event)."""
        with self._lock:
            if kind == "start":
                self.running, self.since = str(what), time.monotonic()
            elif kind == "event":
                if not self.quiet:
                    self.console.print(step_line(what), highlight=False, markup=False, soft_wrap=True)
                # verify and gate run inside the attempt's node: say so while they do
                self.running = {"solve": "verify", "revise": "verify", "revise_with_answer": "verify",
                                "verify": "gate"}.get(what.node, "next step")
                self.since = time.monotonic()

    def _label(self) -> str:
        return escape(f"{self.running} … {time.monotonic() - self.since:.0f} s")

    def _tick(self) -> None:
        every = 0.5 if self.live else self.PLAIN_EVERY_S
        while not self._stop.wait(every):
            with self._lock:
                if self._status is not None:
                    self._status.update(self._label())
                elif time.monotonic() - self.since >= self.PLAIN_EVERY_S:
                    self.console.print(f"  still running {self.running}: {time.monotonic() - self.since:.0f} s",
                                       highlight=False, markup=False)


def step_line(ev: Any) -> str:
    """One finished step as a person reads it: node, seconds, tokens, and what it found."""
    out = ev.output if isinstance(ev.output, dict) else {}
    parts = [f"  {ev.node:<18} {ev.latency_ms / 1000:6.1f} s"]
    if ev.tokens_in or ev.tokens_out:
        parts.append(f"{ev.tokens_in}->{ev.tokens_out} tok")
    if ev.error:
        parts.append(f"error: {ev.error}")
    elif ev.node == "retrieve":
        parts.append(f"{len(out.get('chunks') or [])} chunk(s)" if out.get("enabled", True)
                     else f"off: {out.get('reason', '')}")
    elif ev.node == "verify":
        failed = [f"{v['verifier']}={v['reason']}" for v in out.get("verdicts") or [] if not v.get("ok")]
        parts.append("verified" if out.get("ok") else "not verified: " + ", ".join(failed))
    elif ev.node == "gate":
        score = out.get("score")
        parts.append(f"{out.get('decision')}" + (f" (score {score:.3f})" if isinstance(score, float) else ""))
    elif out.get("extracted_answer") is not None:
        parts.append(f"answer: {out['extracted_answer']}")
    return "  ".join(parts)


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
        no_retry_errors: Annotated[bool, typer.Option(
            "--no-retry-errors", help="skip questions whose last run ended 'error' because a model call failed "
            "(by default a rerun runs them again)")] = False,
        home: HomeOpt = None, provider: ProviderOpt = None, model: ModelOpt = None, base_url: BaseUrlOpt = None,
        max_rounds: MaxRoundsOpt = None, no_stage3: NoStage3Opt = False, no_retrieval: NoRetrievalOpt = False,
        max_tokens: MaxTokensOpt = None, temperature: TemperatureOpt = None, seed: SeedOpt = None,
        verifier: VerifierOpt = None, threads: ThreadsOpt = None,
        as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Run every question of a JSONL file; bad lines are reported and skipped, the rest run.

    Rerunning the same command resumes: finished questions are skipped, interrupted ones continue
    from their last checkpoint, and those that ended in a failed model call run again; when every
    question is already finished, no run is recorded.
    Ctrl-C stops cleanly (exit 130) with in-flight questions checkpointed.
    """
    from scireflect.dedup import find_duplicates
    from scireflect.graph.distributed import run_batch
    from scireflect.questions import load_questions

    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"unknown engine {engine!r}; choose local or ray", param_hint="--engine")
    settings = settings_from(home, provider, model, base_url, workers=_workers(workers),
                             dedup=False if no_dedup else None, retry_errors=False if no_retry_errors else None,
                             **_overrides(
                                 max_rounds, no_stage3, no_retrieval, max_tokens, temperature, seed, verifier, threads))
    loaded = load_questions(file)
    for err in loaded.errors:
        err_console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
    questions = loaded.questions[:limit] if limit else loaded.questions
    settings = _with_threads(settings, _processes(settings, engine, concurrency, len(questions)))
    duplicates = find_duplicates(questions, threshold=settings.dedup_threshold) if settings.dedup else {}
    pipe = _pipeline(settings, quiet=as_json)
    if not rerun and pipe.finished(questions) == len(questions):
        _nothing_to_do(pipe, len(questions), file, as_json)
        raise typer.Exit(1 if loaded.errors else 0)
    run_ = pipe.start_run(str(file))
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops as Ctrl-C does
    try:
        with _ProgressView(len(questions), quiet=as_json) as view:
            summary = run_batch(pipe, questions, run_, concurrency=concurrency, engine=engine,
                                workers=settings.workers, ray_address=ray_address, duplicates=duplicates,
                                skip_finished=not rerun, on_progress=view.update)
    except BaseException as e:  # the run row never stays "running" after its process is gone
        pipe.stores.runs.finish(run_, status="interrupted" if isinstance(e, KeyboardInterrupt) else "failed")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    summary.failed_inputs = len(loaded.errors)
    status = "interrupted" if summary.interrupted else "finished"
    pipe.finish_run(summary, status=status)
    if summary.retried:
        err_console.print(f"ran again {summary.retried} question(s) whose last run ended in a failed model call "
                          "(--no-retry-errors skips them)", highlight=False, markup=False)
    if summary.changed:
        shown = ", ".join(summary.changed[:3]) + (", ..." if len(summary.changed) > 3 else "")
        err_console.print(f"note: {len(summary.changed)} question(s) changed under the same id since their last "
                          f"trace ({shown}); they ran again as new traces", highlight=False, markup=False)
    _report(pipe, run_, summary, status, as_json)
    if summary.interrupted:
        raise typer.Exit(130)
    raise typer.Exit(1 if summary.errors + len(loaded.errors) else 0)


def _processes(settings: Settings, engine: str, concurrency: int, n_questions: int) -> int:
    """How many processes will each load the model: local workers as the engine will resolve them; a
    Ray actor usually has a machine of its own."""
    if engine != "local":
        return 1
    from scireflect.graph.distributed import resolve_workers

    return resolve_workers(settings.workers, settings, concurrency, n_questions)


def _with_threads(settings: Settings, processes: int) -> Settings:
    """``--threads``, else for an in-process model (llama.cpp) this machine's free physical cores shared
    among the processes that each load it. More compute threads than free cores make them wait on each
    other (on a busy 2-core machine torch's default threads ran an eval 15x slower); HTTP endpoints
    need no threads here."""
    if settings.n_threads or settings.provider != "llamacpp":
        return settings
    from scireflect.cpu import default_threads

    return settings.model_copy(update={"n_threads": max(1, default_threads() // max(1, processes))})


def _nothing_to_do(pipe: Any, n: int, file: Path, as_json: bool) -> None:
    """Every question already has a finished trace in this pipeline version: no run is recorded."""
    if as_json:
        print_json({"run_id": None, "status": "nothing_to_do", "pipeline_version": pipe.version,
                    "counts": {"skipped": n}, "tokens": {}, "cost_usd": 0.0})
        return
    what = f"{n} question(s) already finished" if n else f"no valid questions in {file}"
    console.print(f"nothing to do: {what} under pipeline version {pipe.version}", highlight=False, markup=False,
                  soft_wrap=True)
    if n:
        console.print("rerun them with --rerun; see them with: scireflect traces list", style="dim", highlight=False)


def _report(pipe: Any, run_: Any, summary: Any, status: str, as_json: bool) -> None:
    counts = summary.run.counts
    if as_json:
        print_json({"run_id": run_.id, "status": status, "pipeline_version": pipe.version, "counts": counts,
                    "tokens": summary.run.tokens, "cost_usd": summary.run.cost_usd})
    else:
        _print_summary(run_.id, counts, summary.run.tokens)
        if summary.run.cost_usd:
            console.print(f"estimated cost: ${summary.run.cost_usd:.4f}")
        home = "" if pipe.settings.home == Path(".scireflect") else f" --home {pipe.settings.home}"
        console.print(f"look at them: scireflect traces serve{home}   (the viewer, http://127.0.0.1:8765)\n"
                      f"              scireflect traces list --run {run_.id}{home}\n"
                      f"              scireflect runs show {run_.id}{home}", style="dim", highlight=False,
                      markup=False)
    if summary.interrupted:
        err_console.print(f"interrupted: {summary.in_flight} question(s) in flight were checkpointed; "
                          "run the same command again to resume", highlight=False, soft_wrap=True)


STALL_S = 15.0  # no model reply for this long is shown on the progress line


class _ProgressView:
    """A rich progress bar fed with the engine's counters (done, outcomes, questions/min, tokens/s)."""

    def __init__(self, total: int, quiet: bool):
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[tally]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=err_console, disable=quiet, refresh_per_second=4)
        self.task = self.progress.add_task("annotating", total=total, tally="")
        self.t0 = time.monotonic()
        self._mark: tuple[int, int] = (0, 0)
        self._moved = self.t0

    def __enter__(self) -> "_ProgressView":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def update(self, p: dict[str, Any]) -> None:
        now = time.monotonic()
        elapsed = max(now - self.t0, 1e-6)
        worked = p.get("done", 0) - p.get("skipped", 0)
        parts = [f"[green]accepted {p.get('accepted', 0)}[/green]"]
        if p.get("gated_out"):
            parts.append(f"[dark_orange]gated out {p['gated_out']}[/dark_orange]")
        parts += [f"[yellow]rejected {p.get('rejected', 0)}[/yellow]", f"[red]errors {p.get('errors', 0)}[/red]"]
        parts += [f"{k} {p[k]}" for k in ("duplicates", "skipped") if p.get(k)]
        parts.append(f"{worked / elapsed * 60:.1f} q/min  {p.get('tokens', 0) / elapsed:.0f} tok/s")
        stalled = self.stalled_s(p, now)
        if stalled is not None:  # a hung or slow endpoint: nothing has come back for a while
            parts.append(f"[red]no model reply for {stalled:.0f} s[/red]")
        self.progress.update(self.task, completed=p.get("done", 0), tally="  ".join(parts))

    def stalled_s(self, p: dict[str, Any], now: float, after_s: float = STALL_S) -> float | None:
        """Seconds since the last model reply (tokens or finished questions moved), when that is over
        ``after_s`` and questions are still open; else None."""
        mark = (p.get("tokens", 0), p.get("done", 0))
        if mark != self._mark:
            self._mark, self._moved = mark, now
        if p.get("done", 0) >= p.get("total", 0) and p.get("total", 0):
            return None
        waited = now - self._moved
        return waited if waited >= after_s else None


def _print_summary(run_id: str, counts: dict[str, int], tokens: dict[str, dict[str, int]]) -> None:
    table = Table(title=escape(f"run {run_id}"))
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
def runs_list(limit: Annotated[int, typer.Option("--limit", min=1, help="show at most N runs (the newest)")] = 50,
              home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Past runs, newest first."""
    from scireflect.store import open_stores

    rows = open_stores(settings_from(home)).runs.list(limit=limit + 1)  # one more tells whether it cuts
    cut = f"showing the newest {limit} runs; see more with --limit {2 * limit}" if len(rows) > limit else ""
    rows = rows[:limit]
    if as_json:
        print_json(rows)
        if cut:
            err_console.print(cut, highlight=False)
        return
    if not rows:
        console.print("no runs yet; start one with: scireflect run FILE", highlight=False)
        return
    print_rows(["id", "started", "status", "cost $", "counts", "input"],
               [[r["id"], str(r["started_at"])[:19], r["status"], f"{r['cost_usd']:.4f}",
                 ", ".join(f"{k} {v}" for k, v in (r["counts"] or {}).items() if v), str(r["input_path"] or "")]
                for r in rows], flex=4)
    if cut:
        console.print(cut, highlight=False)


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
    console.print(f"[bold]run {escape(row['id'])}[/bold]  {escape(row['status'])}  "
                  f"pipeline {escape(str(row['pipeline_version']))}", highlight=False, soft_wrap=True)
    console.print(escape(f"input: {row['input_path']}  started {row['started_at']}  finished {row['finished_at']}"),
                  highlight=False, soft_wrap=True)
    _print_summary(row["id"], row["counts"] or {}, row["tokens"] or {})
    rate = _rates(row)
    if rate:
        console.print(rate, highlight=False)
    console.print(f"estimated cost: ${row['cost_usd']:.4f}", highlight=False)


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
