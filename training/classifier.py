"""The quality classifier: a scikit-learn pipeline over trace features, calibrated, with a chosen threshold.

TF-IDF of the question and the solution (word and character n-grams) plus the structure features of
``training.features`` feed a logistic regression whose probabilities are calibrated
(``CalibratedClassifierCV``). The threshold is chosen on out-of-fold predictions of a grouped
k-fold cross-validation (all solutions of one question stay in one fold) for a target precision;
the final model is then fitted on every labeled solution. Linear models keep each decision
explainable: a feature's contribution is its value times its coefficient.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from scireflect.errors import InputError, missing_dependency
from scireflect.schema import Trace
from scireflect.training.features import (FEATURE_SCHEMA_VERSION, STRUCT_FEATURES, TEXT_COLUMNS, accepted_attempt,
                                          feature_table, question_text)
from scireflect.training.labels import LabeledTrace

log = logging.getLogger(__name__)


def _sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError as e:
        raise missing_dependency("scikit-learn", "classifier") from e


def build_pipeline(seed: int = 0, calibration_folds: int = 3) -> Any:
    """An unfitted pipeline: column features -> calibrated logistic regression."""
    _sklearn()
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    n_text = len(TEXT_COLUMNS)
    features = ColumnTransformer([
        ("question_words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=4000, sublinear_tf=True), 0),
        ("solution_words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=15000, sublinear_tf=True), 1),
        ("solution_chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=3, max_features=20000,
                                           sublinear_tf=True), 1),
        ("structure", StandardScaler(), list(range(n_text, n_text + len(STRUCT_FEATURES)))),
    ])
    model = LogisticRegression(C=2.0, max_iter=3000, class_weight="balanced", random_state=seed)
    clf = CalibratedClassifierCV(model, method="sigmoid", cv=calibration_folds)
    return Pipeline([("features", features), ("clf", clf)])


def _splits(y: Any, groups: Sequence[str], folds: int, seed: int) -> list[tuple[Any, Any]]:
    """Grouped stratified folds (one question's solutions never straddle train and validation)."""
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if len(set(groups)) >= folds:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = list(splitter.split(np.zeros(len(y)), y, groups))
        if all(len(set(y[te])) == 2 and len(set(y[tr])) == 2 for tr, te in splits):
            return splits
    splitter2 = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter2.split(np.zeros(len(y)), y))


def out_of_fold(examples: list[LabeledTrace], folds: int = 5, seed: int = 0) -> Any:
    """Calibrated probabilities for each example from a model that never saw its question."""
    import numpy as np

    _sklearn()
    X = feature_table(e.trace for e in examples)
    y = np.array([e.label for e in examples])
    oof = np.zeros(len(y), dtype=float)
    for tr, te in _splits(y, [e.group for e in examples], folds, seed):
        pipe = build_pipeline(seed)
        pipe.fit(X[tr], y[tr])
        oof[te] = pipe.predict_proba(X[te])[:, 1]
    return oof


def choose_threshold(y: Any, p: Any, target_precision: float) -> tuple[float, bool]:
    """The lowest threshold (most recall) whose precision reaches the target; else the best-F1 one.

    Returns (threshold, target_met).
    """
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    ok = np.flatnonzero(precision >= target_precision)
    if ok.size:
        best = ok[np.argmax(recall[ok])]
        return float(thresholds[best]), True
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1))]), False


def metrics_at(y: Any, p: Any, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 at the threshold; ROC AUC and average precision over all thresholds."""
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

    pred = (p >= threshold).astype(int)
    two = len(set(y.tolist())) == 2
    return {
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, p)) if two else float("nan"),
        "average_precision": float(average_precision_score(y, p)) if two else float("nan"),
        "threshold": float(threshold),
        "n": int(len(y)), "positives": int(y.sum()), "negatives": int(len(y) - y.sum()),
    }


def pass_rate_by_kind(examples: list[LabeledTrace], p: Any, threshold: float) -> dict[str, float]:
    """Share of each kind of labeled solution that the gate would pass (bad kinds should be near 0)."""
    total: Counter = Counter()
    passed: Counter = Counter()
    for e, s in zip(examples, p):
        total[e.kind] += 1
        passed[e.kind] += int(s >= threshold)
    return {k: round(passed[k] / total[k], 4) for k in sorted(total)}


@dataclass
class QualityClassifier:
    """A fitted pipeline, its threshold and what is known about how it was trained."""

    pipeline: Any
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    def score_table(self, table: Any) -> Any:
        return self.pipeline.predict_proba(table)[:, 1]

    def score_many(self, traces: Sequence[Trace]) -> list[float]:
        if not traces:
            return []
        return [float(s) for s in self.score_table(feature_table(traces))]

    def score(self, trace: Trace) -> float:
        return self.score_many([trace])[0]

    # explanations ---------------------------------------------------------------------------
    def feature_names(self) -> list[str]:
        names = self.meta.get("_names")
        if names is None:
            names = []
            ct = self.pipeline.named_steps["features"]
            for name, trans, _cols in ct.transformers_:
                if name == "remainder":
                    continue
                if name == "structure":
                    names += [f"structure:{f}" for f in STRUCT_FEATURES]
                else:
                    names += [f"{name}:{w}" for w in trans.get_feature_names_out()]
            self.meta["_names"] = names
        return names

    def coefficients(self) -> Any:
        """The logistic regression's weights, averaged over the calibration folds."""
        import numpy as np

        clf = self.pipeline.named_steps["clf"]
        return np.mean([c.estimator.coef_[0] for c in clf.calibrated_classifiers_], axis=0)

    def explain_many(self, traces: Sequence[Trace], k: int = 5) -> list[list[tuple[str, float]]]:
        """For each trace, the ``k`` features that pushed its score most, with signed contributions."""
        import numpy as np

        if not traces:
            return []
        X = self.pipeline.named_steps["features"].transform(feature_table(traces))
        contrib = X.multiply(self.coefficients()).tocsr() if hasattr(X, "multiply") else X * self.coefficients()
        names = self.feature_names()
        out = []
        for i in range(contrib.shape[0]):
            row = contrib.getrow(i) if hasattr(contrib, "getrow") else None
            if row is not None:
                idx, vals = row.indices, row.data
            else:
                vals = np.asarray(contrib[i]).ravel()
                idx = np.arange(len(vals))
            order = np.argsort(-np.abs(vals))[:k]
            out.append([(names[idx[j]], round(float(vals[j]), 4)) for j in order if vals[j] != 0])
        return out

    def explain(self, trace: Trace, k: int = 5) -> list[tuple[str, float]]:
        return self.explain_many([trace], k)[0]


def _slim(pipe: Any) -> None:
    """Drop the vectorizers' ``stop_words_`` (every pruned n-gram: megabytes, only for introspection)."""
    for _name, trans, _cols in pipe.named_steps["features"].transformers_:
        if hasattr(trans, "stop_words_"):
            trans.stop_words_ = None


def labels_digest(examples: list[LabeledTrace]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([e.label, e.trace.model_dump(mode="json", exclude={"created_at"})],
                            sort_keys=True, default=str).encode())
    return h.hexdigest()


def example_hashes(examples: list[LabeledTrace]) -> list[str]:
    """A short content hash per example of the text the classifier reads (question and solution), so the
    same solution is recognised in another file, under another id or with another label."""
    out = []
    for e in examples:
        a = accepted_attempt(e.trace)
        text = question_text(e.trace) + "\x00" + (a.solution if a else "")
        out.append(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16])
    return out


def training_overlap(meta: dict[str, Any], examples: list[LabeledTrace], path: str = "") -> dict[str, Any] | None:
    """How many of ``examples`` a trained classifier (its ``meta``) was fitted on; None when unknown.

    Uses the per-example hashes stored at training time; a classifier saved before they were
    stored is compared by the whole file's label digest, then by the training file's path."""
    n = len(examples)
    if meta.get("training_hashes"):
        seen = set(meta["training_hashes"])
        shared = sum(h in seen for h in example_hashes(examples))
        return {"shared": shared, "n": n, "share": shared / n if n else 0.0, "by": "example hashes"}
    if meta.get("labels_sha256") and meta["labels_sha256"] == labels_digest(examples):
        return {"shared": n, "n": n, "share": 1.0, "by": "labels digest"}
    source = meta.get("source")
    if source and path and Path(source).expanduser().resolve() == Path(path).expanduser().resolve():
        return {"shared": None, "n": n, "share": None, "by": "training file path"}
    return None


def train(examples: list[LabeledTrace], *, target_precision: float = 0.9, folds: int = 5, seed: int = 0,
          source: str = "") -> QualityClassifier:
    """Cross-validate to choose the threshold, then fit on everything. Examples must be checked first."""
    import numpy as np
    import sklearn

    if folds < 2:
        raise InputError(f"folds must be at least 2, not {folds}")
    started = time.perf_counter()
    y = np.array([e.label for e in examples])
    oof = out_of_fold(examples, folds=folds, seed=seed)
    threshold, met = choose_threshold(y, oof, target_precision)
    if not met:
        log.warning("no threshold reaches precision %.2f on validation; using the best-F1 threshold %.3f",
                    target_precision, threshold)
    pipe = build_pipeline(seed)
    pipe.fit(feature_table(e.trace for e in examples), y)
    _slim(pipe)
    digest = labels_digest(examples)
    meta = {
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "version": f"v{FEATURE_SCHEMA_VERSION}-{digest[:10]}-s{seed}",
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training_seconds": round(time.perf_counter() - started, 2),
        "source": source, "labels_sha256": digest, "seed": seed, "folds": folds,
        "target_precision": target_precision, "target_met": met,
        "metrics": {"validation": metrics_at(y, oof, threshold),
                    "pass_rate_by_kind": pass_rate_by_kind(examples, oof, threshold)},
        "sklearn_version": sklearn.__version__,
        "training_hashes": sorted(set(example_hashes(examples))),  # for `classifier eval`'s overlap warning
    }
    return QualityClassifier(pipeline=pipe, threshold=threshold, meta=meta)
