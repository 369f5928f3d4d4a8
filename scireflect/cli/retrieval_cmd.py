"""``scireflect ingest`` and ``scireflect search``: textbook retrieval from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.markup import escape

from scireflect.cli import app
from scireflect.cli.common import (DebugOpt, HomeOpt, JsonOpt, cli_errors, console, err_console, print_json,
                                   settings_from, setup_logging)
from scireflect.errors import ConfigError

ChromaUrlOpt = Annotated[Optional[str], typer.Option(
    "--chroma-url", help="Chroma server http://HOST:PORT (default: files under HOME/chroma)")]
CollectionOpt = Annotated[Optional[str], typer.Option("--collection", help="Chroma collection [default: textbooks]")]


@app.command("ingest")
@cli_errors
def ingest_cmd(
    paths: Annotated[Optional[list[Path]], typer.Argument(
        metavar="PATH", help="PDF, Markdown, LaTeX or text files, or folders of them", show_default=False)] = None,
    prune: Annotated[bool, typer.Option("--prune", help="remove chunks of files that no longer exist")] = False,
    subject: Annotated[Optional[str], typer.Option(
        "--subject", help="subject for every file (default: front matter, else the first folder name)")] = None,
    chroma_url: ChromaUrlOpt = None,
    collection: CollectionOpt = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Add textbooks to the retrieval index; unchanged files are not embedded again."""
    if not paths and not prune:
        raise typer.BadParameter("give at least one PATH (or --prune alone)", param_hint="PATH")
    settings = settings_from(home=home, chroma_url=chroma_url, collection=collection)
    setup_logging(settings, "ingest")
    from scireflect.tools.retrieval.ingest import ingest

    if json_out:
        report = ingest(list(paths or []), settings, subject=subject, prune=prune)
    else:
        report = _ingest_with_progress(list(paths or []), settings, subject, prune)
    for path, reason in report.skipped:
        err_console.print(f"skipped {escape(str(path))}: {escape(reason)}", highlight=False, soft_wrap=True)
    if json_out:
        print_json(report.as_dict())
    else:
        console.print(
            f"{report.files} files: {report.new_files} new, {report.updated_files} updated, "
            f"{report.unchanged_files} unchanged, {len(report.skipped)} skipped"
            + (f", {len(report.pruned_files)} pruned" if prune else "")
            + f"; chunks +{report.chunks_added} -{report.chunks_removed}, {report.total_chunks} in "
              f"'{escape(settings.collection)}' ({report.seconds:.1f} s)", highlight=False, soft_wrap=True)
    if report.skipped:
        raise typer.Exit(1)


def _ingest_with_progress(paths: list[Path], settings, subject: str | None, prune: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from scireflect.tools.retrieval.ingest import ingest

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        files = bar.add_task("files", total=None)
        chunks = bar.add_task("chunks embedded", total=None)

        def progress(event: str, n: int) -> None:
            if event == "files_total":
                bar.update(files, total=n)
            elif event == "files":
                bar.advance(files, n)
            elif event == "chunks":
                bar.advance(chunks, n)

        return ingest(paths, settings, subject=subject, prune=prune, progress=progress)


@app.command("search")
@cli_errors
def search_cmd(
    query: Annotated[str, typer.Argument(
        metavar="QUERY", help="what to look for, or '-' to read one query per line from stdin (the embedding "
        "model loads once for all of them)", show_default=False)],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="number of chunks")] = 5,
    subject: Annotated[Optional[str], typer.Option("--subject", help="only this subject")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="only this file (as shown, or its name)")] = None,
    mode: Annotated[str, typer.Option("--mode", help="hybrid | dense | bm25")] = "hybrid",
    chroma_url: ChromaUrlOpt = None,
    collection: CollectionOpt = None,
    home: HomeOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON: the chunks as a list; with '-', "
                                           "one line per query: {\"query\": ..., \"chunks\": [...]}")] = False,
    debug: DebugOpt = False,
) -> None:
    """Print the chunks that best match QUERY, with source, page and section."""
    if mode not in ("hybrid", "dense", "bm25"):
        raise typer.BadParameter("use hybrid, dense or bm25", param_hint="--mode")
    settings = settings_from(home=home, chroma_url=chroma_url, collection=collection)
    from scireflect.tools.retrieval import open_retriever

    # Searching by hand works even where runs have retrieval switched off. The retriever (and with it the
    # loaded embedding model) is kept for every query of this command.
    retriever = open_retriever(settings.model_copy(update={"retrieval": True}))
    if retriever is None:
        raise ConfigError(f"nothing ingested in collection '{settings.collection}' "
                          f"({settings.chroma_url or settings.home}); run: scireflect ingest PATH")
    if mode != "bm25" and err_console.is_terminal and not json_out:
        with err_console.status("loading the embedding model", spinner="dots"):
            retriever.warmup()
    many = query == "-"
    filters = {"subject": subject, "source": source}
    for q in _queries(query):
        chunks = retriever.search(q, k, filters, mode=mode)  # type: ignore[arg-type]
        if json_out:
            rows = [c.model_dump() for c in chunks]
            if many:
                sys.stdout.write(json.dumps({"query": q, "chunks": rows}, ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                print_json(rows)
            continue
        if many:
            console.print(f"[bold]query:[/bold] {escape(q)}", highlight=False, soft_wrap=True)
        _print_chunks(chunks)
        if many and not chunks:
            console.print()


def _queries(query: str) -> Iterator[str]:
    """QUERY itself, or for '-' each line of stdin as it arrives (blank lines skipped)."""
    if query != "-":
        yield query
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def _print_chunks(chunks: list[Any]) -> None:
    if not chunks:
        console.print("no matching chunks", highlight=False)
        return
    for rank, c in enumerate(chunks, start=1):
        where = c.source + (f" p.{c.page}" if c.page is not None else "")
        section = f" · {c.section}" if c.section else ""
        subj = f" [{c.subject}]" if c.subject else ""
        console.print(f"[bold]{rank}. {escape(where + section)}[/bold]{escape(subj)}  score={c.score:.4f}  "
                      f"id={escape(c.id[:12])}", highlight=False, soft_wrap=True)
        console.print(_snippet(c.text), highlight=False, markup=False, soft_wrap=True)
        console.print()


def _snippet(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return "   " + (flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " ...")
