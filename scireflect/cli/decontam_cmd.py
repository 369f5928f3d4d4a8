"""``scireflect decontaminate``: check the workspace's training records against evaluation sets.

Exit status: 0 when no record is flagged, 1 when at least one is, 2 on bad usage (an unknown benchmark
or method, a bad threshold) or when a method asked for by ``--method`` cannot run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import (DebugOpt, HomeOpt, JsonOpt, cli_errors, console, err_console, print_json,
                                   settings_from)
from scireflect.errors import ConfigError, InputError

METHODS_HELP = "ngram | minhash | embedding; repeat for several [default: all three]"
THRESHOLD_HELP = ("METHOD=X (repeatable), or X alone with a single --method: n-gram share of the item, "
                  "MinHash Jaccard, or embedding cosine")


def parse_thresholds(values: list[str], methods: list[str]) -> dict[str, float]:
    """``["minhash=0.7", "embedding=0.85"]`` or ``["0.7"]`` with one method -> {method: threshold}."""
    from scireflect.training.decontam import METHODS

    out: dict[str, float] = {}
    for v in values:
        method, sep, number = v.rpartition("=")
        if not sep:
            if len(methods) != 1:
                raise ConfigError(f"--threshold {v}: give it as METHOD={v} or with exactly one --method")
            method = methods[0]
        if method not in METHODS:
            raise ConfigError(f"--threshold {v}: unknown method {method!r}; choose from: {', '.join(METHODS)}")
        try:
            out[method] = float(number)
        except ValueError:
            raise ConfigError(f"--threshold {v}: {number!r} is not a number") from None
    return out


@app.command("decontaminate")
@cli_errors
def decontaminate_cmd(
        against: Annotated[list[str], typer.Option("--against", metavar="NAME_OR_PATH",
                                                   help="benchmark name, file or folder; repeatable")],
        method: Annotated[Optional[list[str]], typer.Option("--method", metavar="METHOD", help=METHODS_HELP)] = None,
        n: Annotated[Optional[int], typer.Option("--n", min=1, metavar="N", help="n-gram length for every item "
                                                 "[default: 13, or 8 for items under 30 words]")] = None,
        threshold: Annotated[Optional[list[str]], typer.Option("--threshold", metavar="[METHOD=]X",
                                                               help=THRESHOLD_HELP)] = None,
        home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Flag training records whose question (or solution) matches an item of a benchmark.

    Exits 0 when nothing is flagged, 1 when something is, 2 on bad usage.
    """
    from scireflect.store import open_stores
    from scireflect.training.decontam import METHODS, MINHASH_THRESHOLD, decontaminate

    methods = list(method or METHODS)
    limits = parse_thresholds(list(threshold or []), methods)
    settings = settings_from(home)
    stores = open_stores(settings)
    try:
        report = decontaminate(stores.records.iter(include_rejected=True), against, settings, methods=methods,
                               ngram_n=n, ngram_threshold=limits.get("ngram"),
                               minhash_threshold=limits.get("minhash", MINHASH_THRESHOLD),
                               embedding_threshold=limits.get("embedding"))
    except InputError as e:  # a benchmark file without usable items is bad usage here, not a finding
        raise ConfigError(str(e)) from e
    finally:
        stores.close()
    skipped = report.settings["skipped"]
    for m, why in skipped.items():
        err_console.print(f"[yellow]warning:[/yellow] {m} check skipped: {escape(why)}", highlight=False)
    if skipped and (method or not report.settings["methods"]):
        raise ConfigError(f"cannot run the {', '.join(skipped)} check: {next(iter(skipped.values()))}")
    if as_json:
        print_json(report.to_json())
    else:
        _print(report)
    raise typer.Exit(1 if report.flags else 0)


def _print(report) -> None:  # noqa: ANN001 - a DecontamReport
    """One row per record and matching item, with every method that flagged it and the first's evidence.
    Ids are never wrapped or cut (people copy them): the table grows past the console's width instead."""
    rows: dict[tuple[str, str, str], list] = {}
    for f in report.flags:
        rows.setdefault((f.record_id, f.benchmark, f.item_id), []).append(f)
    if rows:
        cells = [[record_id, flags[0].question_id,
                  f"{Path(bench).name if len(bench) > 24 else bench}: {item_id}",
                  ", ".join(f"{f.method} {f.score:.2f}" for f in flags), flags[0].evidence]
                 for (record_id, bench, item_id), flags in rows.items()]
        need = sum(max(len(r[i]) for r in cells) for i in range(3)) + 14 + 30 + 16
        table = Table(title="flagged records", width=need if need > console.width else None)
        for col in ("record", "question", "benchmark item"):
            table.add_column(col, no_wrap=True)
        table.add_column("methods", overflow="fold", min_width=14)
        table.add_column("evidence", overflow="fold", ratio=1, min_width=30)
        for row in cells:
            table.add_row(*(escape(x) for x in row))
        console.print(table, crop=False)
    items = sum(report.benchmarks.values())
    console.print(f"{len(report.flagged_ids())} of {report.checked} records flagged against {items} benchmark "
                  f"items ({escape(', '.join(report.benchmarks))}; methods: "
                  f"{', '.join(report.settings['methods']) or 'none'})", highlight=False, soft_wrap=True, markup=False)
