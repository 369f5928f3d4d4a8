"""``scireflect traces list|show|export|serve``: inspect every agent step of every trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.panel import Panel

from scireflect.cli import app
from scireflect.cli.common import (DebugOpt, HomeOpt, JsonOpt, cli_errors, console, err_console, print_json, print_rows,
                                   settings_from)
from scireflect.errors import InputError
from scireflect.schema import TRACE_STATUSES, Trace

traces_app = typer.Typer(help="Inspect traces: every node's prompt, output, verdicts, tokens and latency.",
                         no_args_is_help=True)
app.add_typer(traces_app, name="traces")


def _stores(home: Path | None) -> Any:
    from scireflect.store import open_stores

    return open_stores(settings_from(home))


def _get(stores: Any, trace_id: str) -> Trace:
    trace = stores.traces.get(trace_id)
    if trace is None:
        raise InputError(f"no trace with id {trace_id!r}")
    return trace


_STATUS_HELP = "filter by status: " + ", ".join(TRACE_STATUSES) + " (gated_out: verified, then rejected by the gate)"


@traces_app.command("list")
@cli_errors
def list_(status: Annotated[Optional[str], typer.Option("--status", help=_STATUS_HELP)] = None,
          run: Annotated[Optional[str], typer.Option("--run", help="filter by run id")] = None,
          subject: Annotated[Optional[str], typer.Option("--subject")] = None,
          limit: Annotated[int, typer.Option("--limit", min=1, help="show at most N traces (the newest)")] = 50,
          home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Traces, newest first; says "showing N of M" when --limit cuts the list."""
    if status is not None and status not in TRACE_STATUSES:
        raise InputError(f"unknown status {status!r}; choose one of: {', '.join(TRACE_STATUSES)}")
    traces = _stores(home).traces
    rows = traces.list(status=status, run_id=run, subject=subject, limit=limit)
    total = traces.count(status=status, run_id=run, subject=subject) if len(rows) >= limit else len(rows)
    cut = (f"showing {len(rows)} of {total} traces (newest first); see more with --limit {total}"
           if total > len(rows) else "")
    if as_json:
        print_json([{k: r[k] for k in ("id", "question_id", "run_id", "status", "stage", "reason", "subject",
                                        "gate_score", "gate_decision", "tokens_in", "tokens_out", "created_at")}
                    for r in rows])
        if cut:
            err_console.print(cut, highlight=False, soft_wrap=True)
        return
    if not rows:
        console.print("no traces" + (" match these filters" if status or run or subject else " yet"), highlight=False)
        return
    # Ids whole on one line: they are typed back into `traces show`; the reason gives way on a terminal.
    print_rows(["id", "status", "stage", "tokens", "subject", "question", "reason"],
               [[r["id"], r["status"], r["stage"] or "", str(r["tokens_in"] + r["tokens_out"]), r["subject"] or "",
                 r["question_id"], " ".join((r["reason"] or "").split())] for r in rows], flex=6)
    if cut:
        console.print(cut, highlight=False, soft_wrap=True)


@traces_app.command("show")
@cli_errors
def show(trace_id: str, full: Annotated[bool, typer.Option("--full", help="show whole prompts")] = False,
         home: HomeOpt = None, debug: DebugOpt = False) -> None:
    """One trace, node by node: prompt, output, verdicts, tokens, latency."""
    trace = _get(_stores(home), trace_id)
    q = trace.question
    head = (f"[bold]{escape(trace.id)}[/bold]  question {escape(trace.question_id)}  "
            f"status [bold]{escape(trace.status)}[/bold]")
    console.print(head, highlight=False, soft_wrap=True)
    console.print(f"reason: {escape(trace.reason)}", highlight=False)
    if q is not None:
        # The reference inside the panel: a subtitle is cut to the panel's width.
        console.print(Panel(f"{escape(q.question)}\n[dim]reference:[/dim] {escape(q.gold)}", title="question",
                            title_align="left"), highlight=False)
    for ev in trace.events:
        _print_event(ev, full)
    g = trace.gate
    console.print(f"gate: {escape(str(g.decision))} score={g.score} classifier={escape(str(g.classifier_version))} "
                  f"{escape(g.reason)}", highlight=False)
    console.print(f"tokens: {trace.tokens_in} in / {trace.tokens_out} out   pipeline {escape(trace.pipeline_version)}",
                  highlight=False)


def _print_event(ev: Any, full: bool) -> None:
    title = f"#{ev.seq} {escape(ev.node)}  {ev.latency_ms:.0f} ms"
    if ev.tokens_in or ev.tokens_out:
        title += f"  {ev.tokens_in}->{ev.tokens_out} tok"
    parts: list[str] = []
    if ev.error:
        parts.append(f"[red]error: {escape(ev.error)}[/red]")
    if full:
        for m in ev.messages_in:
            parts.append(f"[dim]{escape(m['role'])}:[/dim] {escape(m['content'])}")
    out = ev.output or {}
    if isinstance(out, dict) and "text" in out:
        parts.append(escape(out["text"]))
        if out.get("extracted_answer") is not None:
            parts.append(f"[cyan]extracted answer:[/cyan] {escape(str(out['extracted_answer']))}")
    if isinstance(out, dict) and "verdicts" in out:
        for v in out["verdicts"]:
            mark = "[green]ok[/green]" if v["ok"] else "[red]not ok[/red]"
            parts.append(f"{escape(v['verifier'])}: {mark} {escape(v['reason'])} {escape(v.get('message') or '')}")
    if isinstance(out, dict) and "chunks" in out:
        if not out.get("enabled", True):
            parts.append(f"[dim]{escape(out.get('reason', ''))}[/dim]")
        parts += [_chunk_line(c) for c in out["chunks"]]
    if ev.node == "gate" and isinstance(out, dict):
        parts.append(escape(f"decision {out.get('decision')} score {out.get('score')}"))
    console.print(Panel("\n".join(parts) or "[dim](no output)[/dim]", title=title, title_align="left"),
                  highlight=False)


def _chunk_line(c: dict[str, Any]) -> str:
    """``[id] source p.N · section  score S``; the brackets are escaped too (``[ab12…]`` reads as a tag)."""
    page = f" p.{c['page']}" if c.get("page") is not None else ""
    section = f" · {c['section']}" if c.get("section") else ""
    return escape(f"[{c['id']}] {c.get('source') or '?'}{page}{section}  score {c.get('score') or 0:.3f}")


@traces_app.command("export")
@cli_errors
def export(trace_id: str,
           fmt: Annotated[str, typer.Option("--format", help="json | html")] = "json",
           out: Annotated[Optional[Path], typer.Option("--out", help="write to this file instead of stdout")] = None,
           home: HomeOpt = None, debug: DebugOpt = False) -> None:
    """One trace with all its events, as JSON (or a self-contained HTML page)."""
    trace = _get(_stores(home), trace_id)
    if fmt == "json":
        text = json.dumps(trace.model_dump(mode="json"), indent=2, ensure_ascii=False)
    elif fmt == "html":
        from scireflect.viewer.export import export_html

        text = export_html(trace)
    else:
        raise InputError(f"unknown format {fmt!r}; choose json or html")
    if out is None:
        typer.echo(text)
    else:
        from scireflect.files import write_output

        write_output(out, text)
        err_console.print(f"wrote {out}")


@traces_app.command("serve")
@cli_errors
def serve(host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port, 1-65535")] = 8765,
          home: HomeOpt = None, debug: DebugOpt = False) -> None:
    """A local, read-only web viewer of the trace store."""
    from scireflect.viewer.app import serve as _serve

    _serve(settings_from(home), host=host, port=port)
