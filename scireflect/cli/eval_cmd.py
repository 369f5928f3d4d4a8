"""``scireflect eval``: evaluate a model on a benchmark; ``eval compare`` and ``eval list`` for past runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Column, Table

from scireflect.cli import app
from scireflect.cli.common import (BaseUrlOpt, DebugOpt, HomeOpt, JsonOpt, cli_errors, console, err_console,
                                   print_json, settings_from, setup_logging)
from scireflect.errors import ConfigError

eval_app = typer.Typer(help="Evaluate models on science benchmarks, scored by the answer verifier.",
                       invoke_without_command=True)
app.add_typer(eval_app, name="eval")

if TYPE_CHECKING:
    from scireflect.evaluation.runner import Status

MAX_WARNINGS = 20
PLAIN_EVERY_S = 10.0  # without a terminal, one progress line this often


def _dur(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def progress_line(st: Status) -> str:
    """One line on where a run stands: items, rate, ETA, and what is in flight and for how long."""
    act = st.activity()
    parts = [f"{st.done}/{st.total} items ({100 * st.done / st.total if st.total else 100:.0f}%)"]
    rate, eta = st.rate(act.partial), st.eta_s(act.partial)
    if rate:
        parts.append(f"{rate:.2f} items/s" if rate >= 0.1 else f"{60 * rate:.1f} items/min")
    if eta is not None and st.done < st.total:
        parts.append(f"ETA {_dur(eta)}")
    line = ", ".join(parts)
    if act.in_flight:
        line += f"; {act.in_flight} in flight, oldest {_dur(act.oldest_s)}"
    return line


class EvalProgress:
    """Per-item progress on stderr, never stdout: a live bar with the ETA on a terminal; otherwise a
    plain line every ``PLAIN_EVERY_S`` seconds and one at the end. A timer refreshes it between
    items, so a request waiting on a slow endpoint shows its growing wait."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console, self.live = console, console.is_terminal
        self.quiet = quiet and not self.live  # --json without a terminal: nothing but the JSON
        self.status: Status | None = None
        self._stop = threading.Event()
        self._bar: Progress | None = None
        self._task: Any = None

    def update(self, status: Status) -> None:
        first, self.status = self.status is None, status
        if first and not self.live and not self.quiet:
            self._plain()

    def _plain(self) -> None:
        if self.status is not None:
            self.console.print(f"eval: {progress_line(self.status)}", highlight=False, soft_wrap=True, markup=False)

    def _refresh(self) -> None:
        st = self.status
        if st is None or self._bar is None:
            return
        act = st.activity()
        self._bar.update(self._task, description="evaluating", total=st.total,
                         completed=min(st.total, st.done + act.partial), info=progress_line(st))

    def _tick(self) -> None:
        every = 0.5 if self.live else PLAIN_EVERY_S
        while not self._stop.wait(every):
            if self.live:
                self._refresh()
            else:
                self._plain()

    def __enter__(self) -> EvalProgress:
        if self.quiet:
            return self
        if self.live:
            # A short bar, so at 80 columns the line of numbers keeps its room (it is cut at the end, not wrapped).
            info = TextColumn("{task.fields[info]}", markup=False, table_column=Column(no_wrap=True, overflow="ellipsis"))
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=16), info,
                                 console=self.console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task("preparing", total=None, info="loading the benchmark and model")
        else:
            self.console.print("eval: loading the benchmark and model", highlight=False)
        self._thread = threading.Thread(target=self._tick, name="eval-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if self.quiet:
            return
        self._stop.set()
        self._thread.join()
        if self._bar is not None:
            self._bar.stop()
        elif exc_type is None and self.status is not None:
            elapsed = time.monotonic() - self.status.started
            self.console.print(f"eval: {self.status.done}/{self.status.total} items, done in {_dur(elapsed)}",
                               highlight=False, markup=False)


@eval_app.callback()
@cli_errors
def evaluate_cmd(
        ctx: typer.Context,
        benchmark: Annotated[Optional[str], typer.Option(
            "--benchmark", "-b", help="benchmark name (see `eval list --benchmarks`) or file/folder path")] = None,
        provider: Annotated[str, typer.Option("--provider", help="llamacpp | openai | hf")] = "llamacpp",
        model: Annotated[Optional[str], typer.Option(
            "--model", help="GGUF file (llamacpp, hf), model folder (hf) or served model name (openai)")] = None,
        adapter: Annotated[Optional[Path], typer.Option("--adapter", help="PEFT/LoRA adapter folder (hf)")] = None,
        limit: Annotated[Optional[int], typer.Option("--limit", help="only the first N items")] = None,
        shots: Annotated[int, typer.Option("--shots", help="K few-shot examples from the dev split")] = 0,
        prompt: Annotated[str, typer.Option("--prompt", help="cot (step by step) | direct (answer only)")] = "cot",
        concurrency: Annotated[Optional[int], typer.Option(
            "--concurrency", help="requests in flight (openai) or batch size (hf)")] = None,
        fmt: Annotated[Optional[str], typer.Option(
            "--format", help="scireflect | scibench | mmlu | math (default: detected per file)")] = None,
        run: Annotated[Optional[str], typer.Option("--run", help="run name (default: derived from the settings)")] = None,
        fresh: Annotated[bool, typer.Option("--fresh", help="discard stored results of this run and start over")] = False,
        max_tokens: Annotated[Optional[int], typer.Option("--max-tokens", help="tokens per answer")] = None,
        temperature: Annotated[float, typer.Option("--temperature", help="0 = greedy")] = 0.0,
        threads: Annotated[Optional[int], typer.Option(
            "--threads", min=1, help="CPU threads of in-process models (hf: torch, llamacpp: n_threads) "
                                     "[default: physical cores less the machine's load]")] = None,
        home: HomeOpt = None, base_url: BaseUrlOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False,
) -> None:
    """Evaluate a model on a benchmark (rerun the same command to resume)."""
    if ctx.invoked_subcommand is not None:
        return
    if not benchmark:
        raise typer.BadParameter("a benchmark name or file is required (see `scireflect eval list --benchmarks`)",
                                 param_hint="--benchmark")
    from scireflect.evaluation.backends import PROVIDERS
    from scireflect.evaluation.runner import EvalConfig, evaluate

    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")
    settings = settings_from(home, None if provider == "hf" else provider, model, base_url,
                             max_tokens=max_tokens, temperature=temperature, n_threads=threads)
    setup_logging(settings, "eval")
    cfg = EvalConfig(benchmark=benchmark, provider=provider, format=fmt, adapter=str(adapter) if adapter else None,
                     limit=limit, shots=shots, style=prompt, concurrency=concurrency, run=run, fresh=fresh)
    with EvalProgress(err_console, quiet=as_json) as shown:
        meta = evaluate(settings, cfg, progress=shown.update)
    _warn_skipped(meta["benchmark"]["skipped"])
    if as_json:
        print_json(meta)
    else:
        _print_summary(meta)
    raise typer.Exit(1 if meta["benchmark"]["skipped"] or meta["counts"]["failed"] else 0)


def _warn_skipped(skipped: list[str]) -> None:
    for line in skipped[:MAX_WARNINGS]:
        err_console.print(f"[yellow]skipped:[/yellow] {escape(str(line))}", highlight=False, soft_wrap=True)
    if len(skipped) > MAX_WARNINGS:
        err_console.print(f"... and {len(skipped) - MAX_WARNINGS} more skipped records", highlight=False, markup=False)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _print_summary(meta: dict[str, Any]) -> None:
    summary, counts = meta["summary"], meta["counts"]
    table = Table(title=f"{meta['benchmark']['name']}: {meta['backend'].get('model')}"
                        + (" + adapter" if meta["backend"].get("adapter") else ""))
    for col in ("subject", "n", "correct", "accuracy", "95% CI"):
        table.add_column(col, justify="left" if col == "subject" else "right")
    rows = list(summary["subjects"].items()) + [("overall", summary["overall"])]
    for name, acc in rows:
        table.add_row(name, str(acc["n"]), str(acc["correct"]), _pct(acc["accuracy"]),
                      f"{_pct(acc['ci_low'])} - {_pct(acc['ci_high'])}", style="bold" if name == "overall" else None)
    console.print(table)
    timing = meta.get("timing") or {}
    rate = f", {timing['items_per_s']:.2f} items/s" if timing.get("items_per_s") else ""
    console.print(f"run [bold]{meta['id']}[/bold] ({meta['status']}): {counts['scored']}/{counts['items']} scored, "
                  f"{counts['failed']} failed{rate}", highlight=False)
    if counts["failed"]:
        console.print("rerun the same command to retry the failed items", style="dim")


@eval_app.command("compare")
@cli_errors
def compare_cmd(run_a: Annotated[str, typer.Argument(help="first run (the baseline)")],
                run_b: Annotated[str, typer.Argument(help="second run")],
                out: Annotated[Optional[Path], typer.Option("--out", help="bar chart PNG path")] = None,
                home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Per-subject accuracy of two runs, the difference, McNemar's exact test, and a bar chart."""
    from scireflect.evaluation.compare import compare_runs

    result = compare_runs(settings_from(home), run_a, run_b, out=out)
    if as_json:
        print_json(result)
        return
    table = Table(title=f"A = {result['a']}\nB = {result['b']}")
    for col in ("subject", "n", "A", "B", "B - A", "A only", "B only", "p (McNemar)"):
        table.add_column(col, justify="left" if col == "subject" else "right")
    for r in result["rows"] + [result["overall"]]:
        table.add_row(r["subject"], str(r["n"]), _pct(r["acc_a"]), _pct(r["acc_b"]), f"{100 * r['diff']:+.1f}",
                      str(r["only_a"]), str(r["only_b"]), f"{r['p_value']:.3g}",
                      style="bold" if r["subject"] == "overall" else None)
    console.print(table)
    if not result["same_benchmark"]:
        console.print("note: the runs used different benchmark files; compared on the items both scored",
                      style="yellow")
    if result["only_in_a"] or result["only_in_b"]:
        console.print(f"items scored in one run only: A {result['only_in_a']}, B {result['only_in_b']} (left out)",
                      style="dim", markup=False)
    console.print(f"chart: {result['chart']}", highlight=False, markup=False)


@eval_app.command("list")
@cli_errors
def list_cmd(benchmarks: Annotated[bool, typer.Option("--benchmarks", help="list named benchmarks instead")] = False,
             home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Past evaluation runs (newest first), or the named benchmarks."""
    settings = settings_from(home)
    if benchmarks:
        from scireflect.evaluation.benchmarks import available

        names = {k: str(v) for k, v in sorted(available(settings).items())}
        if as_json:
            print_json(names)
        else:
            for k, v in names.items():
                console.print(f"{k}\t{v}", highlight=False, markup=False)
        return
    from scireflect.evaluation.results import EvalStore

    runs = EvalStore(settings).list_runs()
    if as_json:
        print_json([{k: m.get(k) for k in ("id", "status", "started_at", "counts", "summary", "backend", "benchmark")}
                    for m in runs])
        return
    if not runs:
        console.print("no evaluation runs yet; start one with: scireflect eval --benchmark NAME")
        return
    from scireflect.cli.common import print_rows

    rows = []
    for m in runs:
        be, counts = m.get("backend") or {}, m.get("counts") or {}
        overall = (m.get("summary") or {}).get("overall") or {}
        pr = m.get("prompt") or {}
        rows.append([str(m.get("id", "?")), str((m.get("benchmark") or {}).get("name", "?")),
                     _pct(overall["accuracy"]) if overall.get("n") else "-",
                     f"{counts.get('scored', 0)}/{counts.get('items', 0)}", str(m.get("status", "?")),
                     str(m.get("started_at", ""))[:19], f"{pr.get('style', '?')}, {pr.get('shots', '?')}-shot",
                     f"{be.get('provider', '?')}:{be.get('model', '?')}" + (" +adapter" if be.get("adapter") else "")])
    # Run ids whole (a Rich table cut them): `eval compare` takes them; the model name gives way on a terminal.
    print_rows(["run", "benchmark", "accuracy", "scored", "status", "started", "prompt", "model"], rows, flex=7)
