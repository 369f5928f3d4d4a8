"""Evaluation harness: score models on science benchmarks with the same verifier.

``evaluate(settings, EvalConfig(...))`` runs a benchmark (scireflect JSONL, SciBench, MMLU-style or
MATH-style files) through a provider (``llamacpp``, ``openai``, ``hf`` with an optional LoRA adapter)
and stores per-item results under ``HOME/eval/RUN/``; ``compare_runs`` tests two runs against each other.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvalConfig", "evaluate", "compare_runs", "load_benchmark", "EvalStore"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing the package does not import LangChain or transformers.
    if name in ("EvalConfig", "evaluate"):
        from scireflect.evaluation import runner

        return getattr(runner, name)
    if name == "compare_runs":
        from scireflect.evaluation.compare import compare_runs

        return compare_runs
    if name == "load_benchmark":
        from scireflect.evaluation.benchmarks import load_benchmark

        return load_benchmark
    if name == "EvalStore":
        from scireflect.evaluation.results import EvalStore

        return EvalStore
    raise AttributeError(name)
