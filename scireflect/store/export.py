"""Export training records as SFT data: chatml, alpaca, sharegpt or prompt-completion JSONL, or a
``datasets`` dataset on disk; optionally split into train and validation by question.

Used by ``scireflect store export`` and by ``scireflect train --from-store``. By default records the
gate rejected are left out and stage-3 records (answer shown to the reviser) are kept: they are
verified and marked ``answer_shown`` in their provenance.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from scireflect.errors import ConfigError, InputError, missing_dependency
from scireflect.schema import Record
from scireflect.settings import Settings

log = logging.getLogger(__name__)

FORMATS = ("chatml", "alpaca", "sharegpt", "prompt-completion")
FILTER_KEYS = {"min_score", "subject", "stage", "include_answer_shown", "include_rejected", "run_id", "decision",
               "pipeline_version"}


def format_row(rec: Record, fmt: str, *, with_meta: bool = False) -> dict[str, Any]:
    """One record in one of ``FORMATS``; ``with_meta`` adds a ``meta`` field with the provenance."""
    if fmt == "chatml":
        messages = rec.messages or [{"role": "user", "content": rec.prompt},
                                    {"role": "assistant", "content": rec.completion}]
        row: dict[str, Any] = {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
    elif fmt == "alpaca":
        row = {"instruction": rec.prompt, "input": "", "output": rec.completion}
    elif fmt == "sharegpt":
        row = {"conversations": [{"from": "human", "value": rec.prompt}, {"from": "gpt", "value": rec.completion}]}
    elif fmt == "prompt-completion":
        row = {"prompt": rec.prompt, "completion": rec.completion}
    else:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if with_meta:
        row["meta"] = {"trace_id": rec.trace_id, "question_id": rec.question_id, "subject": rec.subject,
                       "stage": rec.stage, "answer_shown": rec.answer_shown, "gate_score": rec.gate_score,
                       "gate_decision": rec.gate_decision, "provenance": rec.provenance}
    return row


def _check(fmt: str, flt: dict[str, Any]) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    unknown = set(flt) - FILTER_KEYS
    if unknown:
        raise ConfigError(f"unknown export filter(s): {', '.join(sorted(unknown))}")
    ms = flt.get("min_score")
    if ms is not None and not 0.0 <= float(ms) <= 1.0:
        raise InputError(f"--min-score must be between 0 and 1, not {ms}")


def _record_store(settings: Settings, stores: Any = None) -> tuple[Any, Any]:
    """(RecordStore, stores to close or None)."""
    if stores is not None:
        return stores.records, None
    from scireflect.store import open_stores

    opened = open_stores(settings)
    return opened.records, opened


def iter_export_rows(settings: Settings, fmt: str = "chatml", *, stores: Any = None, with_meta: bool = False,
                     **filters: Any) -> Iterator[dict[str, Any]]:
    """Rows of the matching records in ``fmt`` (filters: min_score, subject, stage, include_answer_shown,
    include_rejected, run_id, decision, pipeline_version)."""
    _check(fmt, filters)
    store, opened = _record_store(settings, stores)
    try:
        for rec in store.iter(**filters):
            yield format_row(rec, fmt, with_meta=with_meta)
    finally:
        if opened is not None:
            opened.close()


def split_questions(question_ids: list[str], split: float, seed: int) -> set[str]:
    """The question ids that go to train: a seeded shuffle, so every record of a question lands on one side."""
    if not 0.0 < split < 1.0:
        raise InputError(f"--split must be between 0 and 1 (the train share), not {split}")
    ids = sorted(set(question_ids))
    random.Random(seed).shuffle(ids)
    n_train = round(split * len(ids))
    if len(ids) >= 2:
        n_train = min(max(n_train, 1), len(ids) - 1)  # both sides non-empty when possible
    return set(ids[:n_train])


def split_rows(settings: Settings, fmt: str = "chatml", *, split: float = 0.9, seed: int = 0, stores: Any = None,
               with_meta: bool = False, **filters: Any) -> dict[str, list[dict[str, Any]]]:
    """{"train": rows, "validation": rows}, split by question (for ``scireflect train --from-store``)."""
    _check(fmt, filters)
    store, opened = _record_store(settings, stores)
    try:
        train_q = split_questions(store.question_ids(**filters), split, seed)
        out: dict[str, list[dict[str, Any]]] = {"train": [], "validation": []}
        for rec in store.iter(**filters):
            side = "train" if rec.question_id in train_q else "validation"
            out[side].append(format_row(rec, fmt, with_meta=with_meta))
        return out
    finally:
        if opened is not None:
            opened.close()


@dataclass
class ExportResult:
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    hf_dataset: Path | None = None
    warning: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def split_paths(out: Path) -> dict[str, Path]:
    """``sft.jsonl`` -> ``sft.train.jsonl`` and ``sft.validation.jsonl``."""
    suffix = out.suffix or ".jsonl"
    return {side: out.with_name(f"{out.stem}.{side}{suffix}") for side in ("train", "validation")}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def save_hf_dataset(parts: dict[str, list[dict[str, Any]]], directory: Path) -> Path:
    try:
        from datasets import Dataset, DatasetDict
    except ImportError as e:
        raise missing_dependency("datasets", "classifier") from e
    dd = DatasetDict({side: Dataset.from_list(rows) if rows else Dataset.from_dict({}) for side, rows in parts.items()})
    dd.save_to_disk(str(directory))
    return directory


def export(settings: Settings, out: Path | None, fmt: str = "chatml", *, split: float | None = None, seed: int = 0,
           hf_dataset: Path | None = None, with_meta: bool = False, stores: Any = None,
           **filters: Any) -> ExportResult:
    """Write the matching records to ``out`` (or its train/validation pair) and/or a dataset folder."""
    if out is None and hf_dataset is None:
        raise InputError("nothing to write: give --out FILE and/or --hf-dataset DIR")
    if split is not None:
        parts = split_rows(settings, fmt, split=split, seed=seed, stores=stores, with_meta=with_meta, **filters)
    else:
        parts = {"train": list(iter_export_rows(settings, fmt, stores=stores, with_meta=with_meta, **filters))}
    result = ExportResult(counts={side: len(rows) for side, rows in parts.items()})
    if out is not None:
        paths = split_paths(out) if split is not None else {"train": out}
        for side, rows in parts.items():
            _write_jsonl(paths[side], rows)
        result.files = paths
    if hf_dataset is not None:
        result.hf_dataset = save_hf_dataset(parts, hf_dataset)
    if result.total == 0:
        active = {k: v for k, v in filters.items() if v not in (None, False, True) or k == "include_answer_shown"
                  and v is False}
        result.warning = ("no records match" + (f" the filters {active}" if active else "") +
                          "; wrote an empty export")
        log.warning(result.warning)
    return result
