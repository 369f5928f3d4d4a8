"""Benchmark: the quality classifier on the labeled set (5-fold cross-validation) and its scoring speed.

Folds are grouped by problem family, so every score comes from a model that never saw that kind of
problem. Reports ROC AUC, average precision, precision/recall at the threshold chosen for the
target precision, the share of each bad kind that would pass, and, when ../shared/scibench is
present, the AUC on solutions built from SciBench's worked solutions (a different style, never
trained on). Throughput: ``score_many`` on batches of traces, the gate's hot path.

    .venv/bin/python bench/classifier.py [--labels PATH] [--folds 5] [--n 2000] [--json OUT]

Last line: ``cv_auc=<float> traces_per_s=<float>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCIBENCH = REPO.parent / "shared" / "scibench"


def _scibench_auc(clf: Any) -> dict[str, Any] | None:
    """AUC on the SciBench-derived development set (built on the fly; not shipped)."""
    if not SCIBENCH.is_dir():
        return None
    sys.path.insert(0, str(REPO / "examples"))
    from build_quality_labels import build_scibench

    from scireflect.training.labels import load_labels
    from scireflect.training.report import evaluate

    rows = build_scibench(SCIBENCH, seed=7)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(json.dumps(r) for r in rows) + "\n")
    try:
        metrics, _, _ = evaluate(clf, load_labels(f.name))
    finally:
        os.unlink(f.name)
    return metrics


def main() -> None:
    ap = argparse.ArgumentParser(description="quality classifier benchmark")
    ap.add_argument("--labels", type=Path, default=REPO / "examples" / "quality_labels.jsonl")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--n", type=int, default=2000, help="traces to score for the throughput")
    ap.add_argument("--json", type=Path, help="write all numbers here")
    args = ap.parse_args()

    import numpy as np

    from scireflect.training.classifier import choose_threshold, metrics_at, out_of_fold, pass_rate_by_kind, train
    from scireflect.training.labels import check_trainable, load_labels

    examples = load_labels(args.labels)
    check_trainable(examples, str(args.labels), 10)
    y = np.array([e.label for e in examples])
    t0 = time.perf_counter()
    oof = out_of_fold(examples, folds=args.folds, seed=0)
    cv_s = time.perf_counter() - t0
    thr, met = choose_threshold(y, oof, args.target_precision)
    cv = metrics_at(y, oof, thr) | {"target_met": met, "pass_rate_by_kind": pass_rate_by_kind(examples, oof, thr)}
    print(f"labeled set: {len(examples)} solutions ({int(y.sum())} good, {int(len(y) - y.sum())} bad), "
          f"{args.folds}-fold CV grouped by problem family in {cv_s:.1f} s")
    print(f"  ROC AUC {cv['roc_auc']:.4f}  average precision {cv['average_precision']:.4f}")
    print(f"  at threshold {thr:.3f} (target precision {args.target_precision}): precision {cv['precision']:.3f} "
          f"recall {cv['recall']:.3f} F1 {cv['f1']:.3f}")
    print("  share passed by kind: " + ", ".join(f"{k} {v:.0%}" for k, v in cv["pass_rate_by_kind"].items()))

    t0 = time.perf_counter()
    clf = train(examples, target_precision=args.target_precision, folds=args.folds, seed=0)
    train_s = time.perf_counter() - t0
    print(f"training (CV threshold + final fit): {train_s:.1f} s")

    sci = _scibench_auc(clf)
    if sci:
        print(f"SciBench-derived set ({sci['n']} solutions, never trained on): ROC AUC {sci['roc_auc']:.4f}, "
              f"precision {sci['precision']:.3f} recall {sci['recall']:.3f} at the trained threshold")

    traces = [e.trace for e in examples]
    traces = (traces * (args.n // len(traces) + 1))[:args.n]
    clf.score_many(traces[:50])  # warm up
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        clf.score_many(traces)
        best = max(best, len(traces) / (time.perf_counter() - t0))
    t0 = time.perf_counter()
    for t in traces[:200]:
        clf.score(t)
    single = 200 / (time.perf_counter() - t0)
    print(f"scoring: {best:.0f} traces/s in one batch of {len(traces)} (best of 3); {single:.0f} traces/s one by one")
    if args.json:
        args.json.write_text(json.dumps({"cv": cv, "scibench": sci, "train_s": train_s, "cv_s": cv_s,
                                         "traces_per_s": best, "single_per_s": single}, indent=2, default=str))
    print(f"cv_auc={cv['roc_auc']:.4f} traces_per_s={best:.1f}")


if __name__ == "__main__":
    main()
