"""``scireflect store export|stats``: the training-data store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import (DebugOpt, HomeOpt, JsonOpt, cli_errors, console, err_console, print_json,
                                   settings_from)

store_app = typer.Typer(help="Training records of accepted traces: statistics and SFT export.", no_args_is_help=True)
app.add_typer(store_app, name="store")

FORMAT_HELP = "chatml | alpaca | sharegpt | prompt-completion"


@store_app.command("export")
@cli_errors
def export_cmd(out: Annotated[Optional[Path], typer.Option("--out", help="JSONL file (with --split: "
                                                           "OUT.train.jsonl and OUT.validation.jsonl)")] = None,
               fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "chatml",
               min_score: Annotated[Optional[float], typer.Option("--min-score", help="lowest gate score")] = None,
               subject: Annotated[Optional[str], typer.Option("--subject")] = None,
               stage: Annotated[Optional[str], typer.Option("--stage", help="cot | reflection | with_answer")] = None,
               run: Annotated[Optional[str], typer.Option("--run", help="records of one run")] = None,
               split: Annotated[Optional[float], typer.Option("--split", help="train share, e.g. 0.9; "
                                                               "split by question")] = None,
               seed: Annotated[int, typer.Option("--seed", help="seed of the split")] = 0,
               answer_shown: Annotated[bool, typer.Option("--include-answer-shown/--exclude-answer-shown",
                                                          help="stage-3 records (reference answer shown)")] = True,
               rejected: Annotated[bool, typer.Option("--include-rejected",
                                                      help="also records the gate rejected")] = False,
               with_meta: Annotated[bool, typer.Option("--with-meta", help="add each record's provenance")] = False,
               hf_dataset: Annotated[Optional[Path], typer.Option("--hf-dataset",
                                                                  help="also save a datasets dataset here")] = None,
               home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Write the records that pass the filters as SFT data."""
    from scireflect.store.export import export

    settings = settings_from(home)
    result = export(settings, out, fmt, split=split, seed=seed, hf_dataset=hf_dataset, with_meta=with_meta,
                    min_score=min_score, subject=subject, stage=stage, run_id=run,
                    include_answer_shown=answer_shown, include_rejected=rejected)
    if result.warning:
        err_console.print(f"[yellow]warning:[/yellow] {result.warning}", highlight=False)
    summary = {"counts": result.counts, "files": {k: str(v) for k, v in result.files.items()},
               "hf_dataset": str(result.hf_dataset) if result.hf_dataset else None, "format": fmt}
    if as_json:
        print_json(summary)
        return
    parts = ", ".join(f"{n} {side}" for side, n in result.counts.items())
    where = ", ".join(str(p) for p in result.files.values())
    if result.hf_dataset:
        where = (where + "; " if where else "") + f"dataset {result.hf_dataset}"
    console.print(f"exported {parts} record(s) as {fmt} to {where}", highlight=False)


def _table(title: str, counts: dict[str, int]) -> Table:
    t = Table(title=title)
    t.add_column(title.split(" ")[-1])
    t.add_column("records", justify="right")
    for k, n in counts.items():
        t.add_row(k, str(n))
    return t


@store_app.command("stats")
@cli_errors
def stats_cmd(png: Annotated[Optional[Path], typer.Option("--png", help="score histogram PNG "
                                                          "[default: HOME/reports/score_histogram.png]")] = None,
              run: Annotated[Optional[str], typer.Option("--run", help="records of one run")] = None,
              home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Records per subject, stage and gate decision, trace statuses, and a histogram of gate scores."""
    from scireflect.store import open_stores
    from scireflect.training.report import score_histogram_png

    settings = settings_from(home)
    stores = open_stores(settings)
    try:
        rec = stores.records
        flt: dict[str, Any] = {"include_rejected": True, "run_id": run}
        stats = {"records": rec.count(**flt), "by_subject": rec.counts_by("subject", **flt),
                 "by_stage": rec.counts_by("stage", **flt), "by_gate_decision": rec.counts_by("gate_decision", **flt),
                 "answer_shown": rec.count(**flt) - rec.count(include_answer_shown=False, **flt),
                 "trace_status": _trace_statuses(stores, run)}
        scores = rec.scores(**flt)
    finally:
        stores.close()
    png = png or settings.path("reports", "score_histogram.png")
    score_histogram_png(scores, png, threshold=_threshold(settings))
    stats["scores"] = len(scores)
    stats["histogram_png"] = str(png)
    if as_json:
        print_json(stats)
        return
    console.print(f"{stats['records']} record(s); {stats['answer_shown']} with the reference answer shown")
    for key, title in (("by_subject", "records per subject"), ("by_stage", "records per stage"),
                       ("by_gate_decision", "records per decision"), ("trace_status", "traces per status")):
        console.print(_table(title, stats[key]))
    console.print(f"score histogram ({len(scores)} scored): {png}")


def _trace_statuses(stores: Any, run: str | None) -> dict[str, int]:
    from sqlalchemy import func, select

    from scireflect.store.tables import traces

    q = select(traces.c.status, func.count()).group_by(traces.c.status).order_by(traces.c.status)
    if run:
        q = q.where(traces.c.run_id == run)
    with stores.engine.connect() as conn:
        return {str(s): int(n) for s, n in conn.execute(q)}


def _threshold(settings: Any) -> float | None:
    """The trained classifier's threshold for the histogram, without loading the model."""
    from scireflect.training.gate import classifier_dir
    from scireflect.training.persist import read_meta

    directory = classifier_dir(settings)
    if not (directory / "meta.json").is_file():
        return None
    try:
        return float(read_meta(directory)["threshold"])
    except Exception:  # noqa: BLE001 - the histogram is still useful without the line
        return None
