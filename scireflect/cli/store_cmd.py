"""``scireflect store export|card|stats``: the training-data store."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import (DebugOpt, HomeOpt, JsonOpt, cli_errors, console, err_console, print_json,
                                   settings_from)

store_app = typer.Typer(help="Training records of accepted traces: statistics, exports and the dataset card.",
                        no_args_is_help=True)
app.add_typer(store_app, name="store")

FORMAT_HELP = ("chatml | alpaca | sharegpt | prompt-completion (SFT); dpo (prompt/chosen/rejected) | reflection "
               "(attempt, critique, revision turns) | prm (per-step labels)")

# Options shared by `store export` and `store card` (the records an export would hold).
MinScoreOpt = Annotated[Optional[float], typer.Option("--min-score", help="lowest gate score")]
SubjectOpt = Annotated[Optional[str], typer.Option("--subject")]
StageOpt = Annotated[Optional[str], typer.Option("--stage", help="cot | reflection | with_answer")]
RunOpt = Annotated[Optional[str], typer.Option("--run", help="records of one run")]
AnswerShownOpt = Annotated[bool, typer.Option("--include-answer-shown/--exclude-answer-shown",
                                              help="stage-3 records (reference answer shown)")]
RejectedOpt = Annotated[bool, typer.Option("--include-rejected", help="also records the gate rejected")]
DecontamOpt = Annotated[bool, typer.Option("--decontaminate/--no-decontaminate",
                                           help="leave out records that match a benchmark item")]
AgainstOpt = Annotated[Optional[list[str]], typer.Option(
    "--against", help="benchmark name or file to decontaminate against (repeat) [every named benchmark]")]
MethodOpt = Annotated[Optional[list[str]], typer.Option(
    "--decontam-method", help="ngram | minhash | embedding (repeat) [ngram, minhash]")]
PassagesOpt = Annotated[bool, typer.Option("--with-passages", help="put the retrieved passages in the prompt "
                                           "and keep citations (default: no passages, citations stripped)")]


def _options(decontaminate: bool, against: list[str] | None, methods: list[str] | None, with_passages: bool,
             **policies: str) -> Any:
    from scireflect.store.export import DEFAULT_DECONTAM_METHODS, ExportOptions

    return ExportOptions(with_passages=with_passages, decontaminate=decontaminate, against=tuple(against or ()),
                         decontam_methods=tuple(methods or DEFAULT_DECONTAM_METHODS), **policies)


def command_line() -> str:
    """The command as typed (program name without its directory), for the dataset card."""
    return shlex.join([Path(sys.argv[0]).name or "scireflect", *sys.argv[1:]])


@store_app.command("export")
@cli_errors
def export_cmd(out: Annotated[Optional[Path], typer.Option("--out", help="JSONL file (with --split: "
                                                           "OUT.train.jsonl and OUT.validation.jsonl)")] = None,
               fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "chatml",
               min_score: MinScoreOpt = None, subject: SubjectOpt = None, stage: StageOpt = None, run: RunOpt = None,
               split: Annotated[Optional[float], typer.Option("--split", help="train share, e.g. 0.9; "
                                                               "split by question")] = None,
               seed: Annotated[int, typer.Option("--seed", help="seed of the split")] = 0,
               answer_shown: AnswerShownOpt = True, rejected: RejectedOpt = False,
               with_meta: Annotated[bool, typer.Option("--with-meta", help="add each record's provenance")] = False,
               hf_dataset: Annotated[Optional[Path], typer.Option(
                   "--hf-dataset", help="also save a datasets dataset here, with its card as README.md")] = None,
               with_passages: PassagesOpt = False, decontaminate: DecontamOpt = True, against: AgainstOpt = None,
               decontam_method: MethodOpt = None,
               dpo_pairs: Annotated[str, typer.Option("--dpo-pairs", help="dpo: rejected = the stage-1 failure "
                                                      "(stage1) or every failed attempt before the fix (all)")
                                    ] = "stage1",
               prm_unchecked: Annotated[str, typer.Option("--prm-unchecked", help="prm: steps the checker could "
                                                          "not check: skip | true | false")] = "skip",
               reflection_answer_shown: Annotated[str, typer.Option(
                   "--reflection-answer-shown", help="reflection: stage-3 traces left out (exclude) or kept with "
                   "the reference answer marked in the turn before the revision (mark)")] = "exclude",
               home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Write the records that pass the filters as training data: deduplicated, decontaminated, with the
    student prompt."""
    from scireflect.store.export import export

    settings = settings_from(home)
    opts = _options(decontaminate, against, decontam_method, with_passages, dpo_pairs=dpo_pairs,
                    prm_unchecked=prm_unchecked, reflection_answer_shown=reflection_answer_shown)
    result = export(settings, out, fmt, split=split, seed=seed, hf_dataset=hf_dataset, with_meta=with_meta,
                    options=opts, command=command_line(), min_score=min_score, subject=subject, stage=stage,
                    run_id=run, include_answer_shown=answer_shown, include_rejected=rejected)
    if result.warning:
        err_console.print(f"[yellow]warning:[/yellow] {escape(str(result.warning))}", highlight=False)
    summary = {**result.summary(), "format": fmt}
    if as_json:
        print_json(summary)
        return
    _print_export(result, fmt)


def _print_export(result: Any, fmt: str) -> None:
    got = result.collected
    parts = ", ".join(f"{n} {side}" for side, n in result.counts.items())
    where = ", ".join(str(p) for p in result.files.values())
    if result.hf_dataset:
        where = (where + "; " if where else "") + f"dataset {result.hf_dataset} (card: {result.card})"
    console.print(f"exported {parts} row(s) as {fmt} from {len(got.records)} of {got.considered} record(s) "
                  f"to {where}", highlight=False, markup=False)
    dup = got.duplicates
    if dup["records"] or dup["rows"]:
        console.print(f"dropped {dup['records']} duplicate record(s) and {dup['rows']} duplicate row(s)",
                      highlight=False, markup=False)
    if got.skipped:
        console.print("left out: " + ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in got.skipped.items()),
                      highlight=False)
    if got.decontam is not None:
        flags = got.decontam.flags
        console.print(f"decontamination: {got.decontam_excluded} record(s) excluded, {len(flags)} match(es) "
                      f"in {got.decontam_seconds:.1f}s; list: {result.decontam_file}", highlight=False, markup=False)
        if flags:
            console.print(_flags_table(flags))


def _flags_table(flags: list[Any], limit: int = 20) -> Table:
    t = Table(title=f"flagged records{f' (first {limit})' if len(flags) > limit else ''}")
    for col in ("record", "question", "benchmark", "item", "method", "score"):
        t.add_column(col)
    for f in flags[:limit]:
        t.add_row(f.record_id, f.question_id, f.benchmark, f.item_id, f.method, f"{f.score:.2f}")
    return t


@store_app.command("card")
@cli_errors
def card_cmd(out: Annotated[Optional[Path], typer.Option("--out", help="write the card here (default: print)")
                            ] = None,
             fmt: Annotated[Optional[str], typer.Option("--format", help="the export format the card describes")
                            ] = None,
             min_score: MinScoreOpt = None, subject: SubjectOpt = None, stage: StageOpt = None, run: RunOpt = None,
             answer_shown: AnswerShownOpt = True, rejected: RejectedOpt = False, with_passages: PassagesOpt = False,
             decontaminate: DecontamOpt = True, against: AgainstOpt = None, decontam_method: MethodOpt = None,
             home: HomeOpt = None, debug: DebugOpt = False) -> None:
    """The dataset card (markdown) of the records an export with these filters would hold."""
    from scireflect.store.export import card_text, collect_rows

    settings = settings_from(home)
    opts = _options(decontaminate, against, decontam_method, with_passages)
    got = collect_rows(settings, fmt or "chatml", options=opts, min_score=min_score, subject=subject, stage=stage,
                       run_id=run, include_answer_shown=answer_shown, include_rejected=rejected)
    text = card_text(got, settings, command_line(), fmt, opts)
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from scireflect.files import write_output

    write_output(out, text)
    console.print(f"dataset card of {len(got.records)} record(s) written to {out}", highlight=False, markup=False)


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
    console.print(f"{stats['records']} record(s); {stats['answer_shown']} with the reference answer shown", markup=False)
    for key, title in (("by_subject", "records per subject"), ("by_stage", "records per stage"),
                       ("by_gate_decision", "records per decision"), ("trace_status", "traces per status")):
        console.print(_table(title, stats[key]))
    console.print(f"score histogram ({len(scores)} scored): {png}", markup=False)


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


@store_app.command("rescore")
@cli_errors
def rescore_cmd(run: RunOpt = None,
                dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would change, store nothing")
                                   ] = False,
                home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Apply the workspace's current quality classifier to the stored records (after `classifier train`)."""
    from scireflect.errors import ConfigError
    from scireflect.store import open_stores
    from scireflect.store.rescore import rescore
    from scireflect.training.gate import load_gate

    settings = settings_from(home=home)
    gate = load_gate(settings)
    if not gate.trained:
        raise ConfigError(f"no classifier is trained under {gate.where}; train one with "
                          "`scireflect classifier train LABELED.jsonl`")
    stores = open_stores(settings)
    try:
        result = rescore(stores, gate, run_id=run, dry_run=dry_run)
    finally:
        stores.close()
    if as_json:
        print_json(result.to_json())
        return
    changes = ", ".join(f"{n} {k}" for k, n in sorted(result.changes.items())) or "none"
    verb = "would rescore" if dry_run else "rescored"
    console.print(f"{verb} {result.records} record(s) with classifier {result.classifier_version} "
                  f"(threshold {result.threshold:.3f}): {changes}", highlight=False, markup=False)
    if result.missing_traces:
        console.print(f"{result.missing_traces} record(s) skipped: their trace is missing or not verified",
                      highlight=False, markup=False)
