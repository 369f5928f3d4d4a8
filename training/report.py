"""Evaluating the quality classifier on labeled solutions and drawing its figures (PR curve, score histogram)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from scireflect.errors import missing_dependency
from scireflect.training.classifier import QualityClassifier, metrics_at, pass_rate_by_kind
from scireflect.training.features import feature_table
from scireflect.training.labels import LabeledTrace


def evaluate(clf: QualityClassifier, examples: list[LabeledTrace]) -> tuple[dict[str, Any], Any, Any]:
    """(metrics at the classifier's threshold, labels, scores) on ``examples``."""
    import numpy as np

    y = np.array([e.label for e in examples])
    p = clf.score_table(feature_table(e.trace for e in examples))
    metrics = metrics_at(y, p, clf.threshold)
    metrics["pass_rate_by_kind"] = pass_rate_by_kind(examples, p, clf.threshold)
    return metrics, y, p


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise missing_dependency("matplotlib", "classifier") from e
    return plt


def pr_curve_png(y: Any, p: Any, threshold: float, path: Path, title: str = "Quality classifier") -> Path:
    """Precision-recall curve with the chosen threshold marked."""
    import numpy as np
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _pyplot()
    precision, recall, thresholds = precision_recall_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=110)
    ax.step(recall, precision, where="post", label=f"AP = {average_precision_score(y, p):.3f}")
    if len(thresholds):
        i = int(np.argmin(np.abs(thresholds - threshold)))
        ax.scatter([recall[i]], [precision[i]], color="red", zorder=3, label=f"threshold {threshold:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def score_histogram_png(scores: Sequence[float], path: Path, threshold: float | None = None,
                        title: str = "Gate scores of stored records") -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=110)
    ax.hist(list(scores), bins=20, range=(0.0, 1.0), color="#4477aa", edgecolor="white")
    if threshold is not None:
        ax.axvline(threshold, color="red", linestyle="--", label=f"threshold {threshold:.3f}")
        ax.legend()
    ax.set_xlabel("quality score")
    ax.set_ylabel("records")
    ax.set_title(title + (f" (n={len(scores)})" if scores else " (no scores yet)"))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
