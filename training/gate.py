"""The quality gate at the end of every accepted trace: score it, compare with the threshold, say why.

With no trained classifier under ``HOME/classifier`` the gate passes everything and says so; a
classifier that exists but cannot be trusted (other schema version, altered file) is an error at
load time, so a run never silently scores with the wrong model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from scireflect.schema import Gate, Trace
from scireflect.settings import Settings
from scireflect.training.classifier import QualityClassifier

log = logging.getLogger(__name__)

CLASSIFIER_DIR = "classifier"


def classifier_dir(settings: Settings) -> Path:
    return settings.path(CLASSIFIER_DIR, mkdir=False)


class QualityGate:
    """Decides pass/reject for accepted traces; ``trained`` is False when it passes everything."""

    def __init__(self, classifier: QualityClassifier | None = None, *, explain_k: int = 3,
                 where: Path | None = None):
        self.classifier = classifier
        self.explain_k = explain_k
        self.where = where

    @property
    def trained(self) -> bool:
        return self.classifier is not None

    @property
    def threshold(self) -> float | None:
        return self.classifier.threshold if self.classifier else None

    @property
    def version(self) -> str | None:
        return self.classifier.version if self.classifier else None

    def score(self, trace: Trace) -> float | None:
        return self.classifier.score(trace) if self.classifier else None

    def score_many(self, traces: Sequence[Trace]) -> list[float | None]:
        if self.classifier is None:
            return [None] * len(traces)
        return list(self.classifier.score_many(traces))

    def decide(self, trace: Trace) -> Gate:
        return self.decide_many([trace])[0]

    def decide_many(self, traces: Sequence[Trace]) -> list[Gate]:
        """One Gate per trace. Total: a scoring failure becomes a ``skipped`` decision with the reason."""
        if self.classifier is None:
            where = f" under {self.where}" if self.where else ""
            return [Gate(decision="pass", reason=f"no classifier is trained{where}; the gate passes everything")
                    for _ in traces]
        try:
            scores = self.classifier.score_many(traces)
            why = self.classifier.explain_many(traces, self.explain_k) if self.explain_k else [[] for _ in traces]
        except Exception as e:  # noqa: BLE001 - the gate never crashes the graph; the trace says why
            log.warning("quality gate failed: %s", e)
            return [Gate(decision="skipped", classifier_version=self.version,
                         reason=f"gate failed: {type(e).__name__}: {e}") for _ in traces]
        thr = self.classifier.threshold
        out = []
        for s, top in zip(scores, why):
            decision = "pass" if s >= thr else "reject"
            sign = ">=" if decision == "pass" else "<"
            reason = f"score {s:.3f} {sign} threshold {thr:.3f}"
            if top:
                reason += "; top features: " + ", ".join(f"{n} ({c:+.2f})" for n, c in top)
            out.append(Gate(score=round(float(s), 6), decision=decision, classifier_version=self.version,
                            reason=reason))
        return out


def load_gate(settings: Settings) -> QualityGate:
    """The workspace's gate. Cheap and silent when no classifier is trained; ConfigError when one is bad."""
    directory = classifier_dir(settings)
    from scireflect.training.persist import is_trained, load

    if not is_trained(directory):
        return QualityGate(None, where=directory)
    return QualityGate(load(directory), where=directory)
