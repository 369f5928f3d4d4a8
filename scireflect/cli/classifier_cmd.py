"""``scireflect classifier train|eval|score``: the quality classifier behind the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from scireflect.cli import app
from scireflect.cli.common import (DebugOpt, HomeOpt, JsonOpt, cli_errors, console, err_console, print_json,
                                   settings_from)
from scireflect.errors import ConfigError, InputError
from scireflect.schema import Trace

classifier_app = typer.Typer(help="Train, evaluate and apply the quality classifier that gates training data.",
                             no_args_is_help=True)
app.add_typer(classifier_app, name="classifier")

TopOpt = Annotated[int, typer.Option("--top", min=0, help="features to show per decision")]


def _print_metrics(m: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    for col in ("n", "good", "bad", "precision", "recall", "F1", "ROC AUC", "threshold"):
        table.add_column(col, justify="right")
    table.add_row(str(m["n"]), str(m["positives"]), str(m["negatives"]), f"{m['precision']:.3f}",
                  f"{m['recall']:.3f}", f"{m['f1']:.3f}", f"{m['roc_auc']:.3f}", f"{m['threshold']:.3f}")
    console.print(table)
    kinds = m.get("pass_rate_by_kind")
    if kinds:
        console.print("share passed by kind: " + ", ".join(f"{k} {v:.0%}" for k, v in kinds.items()))


@classifier_app.command("train")
@cli_errors
def train_cmd(labeled: Annotated[Path, typer.Argument(help="labeled solutions (JSONL)")],
              target_precision: Annotated[Optional[float], typer.Option(
                  "--target-precision", help="choose the threshold for this precision [setting]")] = None,
              folds: Annotated[Optional[int], typer.Option("--folds", help="cross-validation folds")] = None,
              seed: Annotated[int, typer.Option("--seed")] = 0,
              home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Train on LABELED, choose the threshold by cross-validation, save under HOME/classifier."""
    from scireflect.training.classifier import train
    from scireflect.training.gate import classifier_dir
    from scireflect.training.labels import check_trainable, load_labels
    from scireflect.training.persist import save

    settings = settings_from(home, classifier_target_precision=target_precision, classifier_folds=folds)
    examples = load_labels(labeled)
    check_trainable(examples, str(labeled), max(settings.classifier_min_per_class, settings.classifier_folds))
    clf = train(examples, target_precision=settings.classifier_target_precision, folds=settings.classifier_folds,
                seed=seed, source=str(labeled))
    where = save(clf, classifier_dir(settings))
    meta = {k: v for k, v in clf.meta.items() if not k.startswith("_") and k != "training_hashes"}
    meta |= {"threshold": clf.threshold, "saved_to": str(where)}
    if as_json:
        print_json(meta)
        return
    val = dict(clf.meta["metrics"]["validation"], pass_rate_by_kind=clf.meta["metrics"]["pass_rate_by_kind"])
    _print_metrics(val, f"cross-validated ({clf.meta['folds']} folds) at the chosen threshold")
    if not clf.meta["target_met"]:
        err_console.print(f"[yellow]warning:[/yellow] no threshold reaches precision "
                          f"{settings.classifier_target_precision}; using the best-F1 threshold")
    console.print(f"classifier {clf.version} saved to {where} ({clf.meta['training_seconds']} s)", markup=False)


@classifier_app.command("eval")
@cli_errors
def eval_cmd(labeled: Annotated[Path, typer.Argument(help="labeled solutions (JSONL)")],
             png: Annotated[Optional[Path], typer.Option("--png", help="precision-recall curve PNG "
                                                         "[default: HOME/classifier/eval/pr_curve.png]")] = None,
             cv: Annotated[bool, typer.Option("--cv", help="cross-validate on LABELED instead of using the "
                                                          "trained classifier")] = False,
             seed: Annotated[int, typer.Option("--seed")] = 0,
             home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Precision, recall, F1 and ROC AUC on LABELED, and a precision-recall curve PNG."""
    import numpy as np

    from scireflect.training.classifier import choose_threshold, metrics_at, out_of_fold, pass_rate_by_kind
    from scireflect.training.labels import check_trainable, load_labels
    from scireflect.training.report import evaluate, pr_curve_png

    settings = settings_from(home)
    examples = load_labels(labeled)
    warning = None
    if cv:
        check_trainable(examples, str(labeled), max(settings.classifier_min_per_class, settings.classifier_folds))
        y = np.array([e.label for e in examples])
        p = out_of_fold(examples, folds=settings.classifier_folds, seed=seed)
        thr, _ = choose_threshold(y, p, settings.classifier_target_precision)
        metrics = metrics_at(y, p, thr) | {"pass_rate_by_kind": pass_rate_by_kind(examples, p, thr)}
        title = f"cross-validated on {labeled.name} ({settings.classifier_folds} folds)"
    else:
        if len({e.label for e in examples}) < 2:
            raise InputError("evaluation needs good and bad examples; all have one label", path=str(labeled))
        clf = _load_classifier(settings)
        metrics, y, p = evaluate(clf, examples)
        thr = metrics["threshold"]
        title = f"trained classifier on {labeled.name}"
        metrics["training_overlap"], warning = _overlap(clf.meta, examples, labeled)
    png = png or settings.path("classifier", "eval", "pr_curve.png")
    pr_curve_png(y, p, thr, png, title=title)
    metrics["pr_curve_png"] = str(png)
    if as_json:
        print_json(metrics)
    else:
        _print_metrics(metrics, title)
        console.print(f"precision-recall curve: {png}", markup=False)
    if warning:  # after the table, next to the numbers it qualifies
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)


OVERLAP_WARN = 0.1  # share of evaluated examples seen in training above which the metrics are flagged


def _overlap(meta: dict[str, Any], examples: list[Any], labeled: Path) -> tuple[dict[str, Any] | None, str | None]:
    """How much of LABELED the classifier was trained on, and a warning when that is much: its
    precision and AUC then measure memorization (AUC 1.000 on its own training file)."""
    from scireflect.training.classifier import training_overlap

    overlap = training_overlap(meta, examples, str(labeled))
    if overlap is None:
        return None, None
    if overlap["share"] is None:
        what = f"{labeled} is the file the classifier was trained on"
    elif overlap["share"] >= OVERLAP_WARN:
        what = (f"{overlap['shared']} of {overlap['n']} examples in {labeled} ({overlap['share']:.0%}) "
                "were in the classifier's training data")
    else:
        return overlap, None
    return overlap, (f"{what}; these metrics overstate how it does on new solutions "
                     "(evaluate on held-out labels, or use --cv)")


def _load_classifier(settings: Any) -> Any:
    from scireflect.training.gate import classifier_dir, load_gate

    gate = load_gate(settings)
    if gate.classifier is None:
        raise ConfigError(f"no classifier is trained under {classifier_dir(settings)}; "
                          "run: scireflect classifier train LABELED.jsonl")
    return gate.classifier


def _traces_from_file(path: Path) -> list[Trace]:
    from scireflect.training.labels import trace_from_obj

    out = []
    with path.open(encoding="utf-8") as f:
        for lineno, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
                if not isinstance(obj, dict):
                    raise ValueError("each line must be a JSON object")
                out.append(trace_from_obj(obj, f"{path.stem}:{lineno}"))
            except Exception as e:  # noqa: BLE001 - one line per bad input, naming where
                raise InputError(f"not a trace or labeled solution: {str(e).splitlines()[0][:200]}",
                                 path=str(path), line=lineno) from e
    return out


@classifier_app.command("score")
@cli_errors
def score_cmd(target: Annotated[str, typer.Argument(help="a stored trace id (or unique prefix), or a JSONL file "
                                                         "of traces or labeled solutions")],
              top: TopOpt = 5, home: HomeOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Score traces with the trained classifier: score, gate decision and the features behind it."""
    from scireflect.training.gate import QualityGate

    settings = settings_from(home)
    clf = _load_classifier(settings)
    path = Path(target)
    if path.is_file():
        traces = _traces_from_file(path)
    else:
        from scireflect.store import open_stores

        stores = open_stores(settings)
        try:
            trace = stores.traces.get(target, with_events=False)
        finally:
            stores.close()
        if trace is None:
            raise InputError(f"{target!r} is neither a file nor a stored trace id")
        traces = [trace]
    gates = QualityGate(clf, explain_k=0).decide_many(traces)
    why = clf.explain_many(traces, top) if top else [[] for _ in traces]
    rows = [{"trace_id": t.id, "question_id": t.question_id, "score": g.score, "decision": g.decision,
             "threshold": clf.threshold, "classifier_version": clf.version,
             "top_features": [{"feature": n, "contribution": c} for n, c in w]}
            for t, g, w in zip(traces, gates, why)]
    if as_json:
        print_json(rows if path.is_file() else rows[0])
        return
    for r in rows:
        console.print(f"[bold]{escape(r['trace_id'])}[/bold] ({escape(r['question_id'])}): score {r['score']:.3f} "
                      f"-> {r['decision']} (threshold {r['threshold']:.3f})")
        for f in r["top_features"]:
            console.print(f"    {f['contribution']:+.3f}  {escape(f['feature'])}", highlight=False)
