"""``scireflect eval``: evaluate a model on a benchmark; ``eval compare`` and ``eval list`` for past runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import (BaseUrlOpt, DebugOpt, HomeOpt, JsonOpt, cli_errors, console, err_console,
                                   print_json, settings_from, setup_logging)
from scireflect.errors import ConfigError

eval_app = typer.Typer(help="Evaluate models on science benchmarks, scored by the answer verifier.",
                       invoke_without_command=True)
app.add_typer(eval_app, name="eval")

MAX_WARNINGS = 20


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
                             max_tokens=max_tokens, temperature=temperature)
    setup_logging(settings, "eval")
    cfg = EvalConfig(benchmark=benchmark, provider=provider, format=fmt, adapter=str(adapter) if adapter else None,
                     limit=limit, shots=shots, style=prompt, concurrency=concurrency, run=run, fresh=fresh)
    with Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("eval", total=None)
        meta = evaluate(settings, cfg, progress=lambda done, total: bar.update(task, completed=done, total=total))
    _warn_skipped(meta["benchmark"]["skipped"])
    if as_json:
        print_json(meta)
    else:
        _print_summary(meta)
    raise typer.Exit(1 if meta["benchmark"]["skipped"] or meta["counts"]["failed"] else 0)


def _warn_skipped(skipped: list[str]) -> None:
    for line in skipped[:MAX_WARNINGS]:
        err_console.print(f"[yellow]skipped:[/yellow] {line}", highlight=False, soft_wrap=True)
    if len(skipped) > MAX_WARNINGS:
        err_console.print(f"... and {len(skipped) - MAX_WARNINGS} more skipped records", highlight=False)


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
                      style="dim")
    console.print(f"chart: {result['chart']}", highlight=False)


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
                console.print(f"{k}\t{v}", highlight=False)
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
