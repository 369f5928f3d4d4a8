"""Export training records: SFT data (chatml, alpaca, sharegpt, prompt-completion) and the reflection each
trace holds (``dpo`` preference pairs, multi-turn ``reflection`` conversations, ``prm`` step labels), as JSONL
or a ``datasets`` dataset on disk; optionally split into train and validation by question.

Used by ``scireflect store export``/``store card`` and by ``scireflect train --from-store``. Every exported
prompt is the student prompt (``scireflect.training.student``), the one ``scireflect eval`` sends. Records are
deduplicated, and by default checked against the named benchmarks and flagged ones left out. Gate-rejected
records are left out and stage-3 records (answer shown to the reviser) kept, marked in their provenance;
the reflection format leaves stage-3 traces out unless asked to mark them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from scireflect.errors import ConfigError, InputError, missing_dependency
from scireflect.schema import Attempt, Chunk, Question, Record, Trace
from scireflect.settings import Settings

log = logging.getLogger(__name__)

SFT_FORMATS = ("chatml", "alpaca", "sharegpt", "prompt-completion")
TRACE_FORMATS = ("dpo", "reflection", "prm")
FORMATS = SFT_FORMATS + TRACE_FORMATS
FILTER_KEYS = {"min_score", "subject", "stage", "include_answer_shown", "include_rejected", "run_id", "decision",
               "pipeline_version"}
DPO_PAIRS = ("stage1", "all")
PRM_UNCHECKED = ("skip", "true", "false")
REFLECTION_ANSWER_SHOWN = ("exclude", "mark")
DECONTAM_METHODS = ("ngram", "minhash", "embedding")
DEFAULT_DECONTAM_METHODS = ("ngram", "minhash")  # embedding on request: see ExportOptions
# The one visible mark of a reflection turn that carries the reference answer (--reflection-answer-shown mark).
ANSWER_SHOWN_MARK = "[reference answer shown to the reviser: {answer}]"
Messages = list[dict[str, str]]


@dataclass
class ExportOptions:
    """How rows are built and which records are kept, beyond the record filters."""

    with_passages: bool = False  # retrieved passages in the prompt; without them citations are stripped
    dpo_pairs: str = "stage1"  # rejected = the stage-1 failure only, or every failed attempt before the fix
    prm_unchecked: str = "skip"  # steps the checker could not check: left out, or labelled true/false
    reflection_answer_shown: str = "exclude"  # stage-3 traces in reflection conversations: left out, or marked
    decontaminate: bool = True
    against: tuple[str, ...] = ()  # benchmark names or paths; empty: every named benchmark
    decontam_methods: tuple[str, ...] = DEFAULT_DECONTAM_METHODS

    def check(self) -> None:
        for name, value, allowed in (("--dpo-pairs", self.dpo_pairs, DPO_PAIRS),
                                     ("--prm-unchecked", self.prm_unchecked, PRM_UNCHECKED),
                                     ("--reflection-answer-shown", self.reflection_answer_shown,
                                      REFLECTION_ANSWER_SHOWN)):
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        bad = [m for m in self.decontam_methods if m not in DECONTAM_METHODS]
        if bad or not self.decontam_methods:
            raise ConfigError(f"--decontam-method must be among {', '.join(DECONTAM_METHODS)}, not {bad or 'none'}")


# --- the student prompt ------------------------------------------------------------------------

def _question(rec: Record, trace: Trace | None) -> Question | None:
    if trace is not None and trace.question is not None:
        return trace.question
    if not rec.prompt.strip():
        return None
    # A record without its trace: the stored prompt already lists the options.
    return Question(id=rec.question_id, question=rec.prompt, answer="", subject=rec.subject)


def _sorted_attempts(trace: Trace) -> list[Attempt]:
    order = {"cot": 0, "reflection": 1, "with_answer": 2}
    return sorted(trace.attempts, key=lambda a: (a.round, order.get(a.stage, 3)))


def _passages(trace: Trace | None) -> list[Chunk] | None:
    """The passages the solver saw, from the trace's retrieve event; None when their text is not stored."""
    if trace is None or not trace.attempts:
        return None
    ids = next((a.retrieved for a in _sorted_attempts(trace) if a.retrieved), [])
    if not ids:
        return []
    stored: dict[str, dict[str, Any]] = {}
    for ev in trace.events:
        if ev.node == "retrieve" and isinstance(ev.output, dict):
            stored.update({c["id"]: c for c in ev.output.get("chunks") or [] if isinstance(c, dict) and "id" in c})
    if not all(i in stored for i in ids):
        return None
    return [Chunk.model_validate({k: v for k, v in stored[i].items() if k in Chunk.model_fields}) for i in ids]


# --- rows ----------------------------------------------------------------------------------------

def _split_prompt(prompt: Messages) -> tuple[str, str]:
    """(system text, user text) of a prompt."""
    system = "\n\n".join(m["content"] for m in prompt if m["role"] == "system")
    user = "\n\n".join(m["content"] for m in prompt if m["role"] != "system")
    return system, user


def format_row(rec: Record, fmt: str, *, with_meta: bool = False, prompt: Messages | None = None,
               completion: str | None = None) -> dict[str, Any]:
    """One record in one of ``SFT_FORMATS``. ``prompt`` (chat messages) and ``completion`` replace the
    record's bare question and stored solution; ``with_meta`` adds a ``meta`` field with the provenance."""
    bare = prompt is None  # the stored question and solution as plain strings (the format before prompts)
    prompt = prompt or [{"role": "user", "content": rec.prompt}]
    completion = rec.completion if completion is None else completion
    answer = [{"role": "assistant", "content": completion}]
    system, user = _split_prompt(prompt)
    if fmt == "chatml":
        row: dict[str, Any] = {"messages": [*prompt, *answer]}
    elif fmt == "alpaca":
        # prompt/completion too: TRL's SFTTrainer reads those (conversational, so its chat template applies)
        row = {"instruction": user, "input": "", "output": completion, **({"system": system} if system else {}),
               "prompt": prompt, "completion": answer}
    elif fmt == "sharegpt":
        row = {"conversations": [{"from": {"system": "system", "user": "human"}.get(m["role"], "gpt"),
                                  "value": m["content"]} for m in [*prompt, *answer]]}
    elif fmt == "prompt-completion":
        row = {"prompt": rec.prompt, "completion": completion} if bare else {"prompt": prompt, "completion": answer}
    else:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(SFT_FORMATS)}")
    if with_meta:
        row["meta"] = _meta(rec)
    return row


def _meta(rec: Record, **extra: Any) -> dict[str, Any]:
    return {"trace_id": rec.trace_id, "question_id": rec.question_id, "subject": rec.subject, "stage": rec.stage,
            "answer_shown": rec.answer_shown, "gate_score": rec.gate_score, "gate_decision": rec.gate_decision,
            "provenance": rec.provenance, **extra}


class RowBuilder:
    """Rows of one format from a record and its trace; why a record gave no row is counted in ``skipped``."""

    def __init__(self, settings: Settings, fmt: str, options: ExportOptions, with_meta: bool = False):
        from scireflect.training.student import student_completion, student_messages

        self.settings, self.fmt, self.opts, self.with_meta = settings, fmt, options, with_meta
        self.messages_fn, self.completion_fn = student_messages, student_completion
        self.skipped: Counter[str] = Counter()

    def completion(self, solution: str) -> str:
        return self.completion_fn(solution, keep_citations=self.opts.with_passages)

    def prompt(self, rec: Record, trace: Trace | None) -> Messages | None:
        question = _question(rec, trace)
        if question is None:
            self.skipped["no_question"] += 1
            return None
        passages = None
        if self.opts.with_passages:
            passages = _passages(trace)
            if passages is None:
                self.skipped["passages_not_stored"] += 1
                return None
        return self.messages_fn(question, passages=passages or None, settings=self.settings)

    def rows(self, rec: Record, trace: Trace | None) -> list[dict[str, Any]]:
        if self.fmt in TRACE_FORMATS and (trace is None or not trace.attempts):
            self.skipped["trace_missing"] += 1
            return []
        prompt = self.prompt(rec, trace)
        if prompt is None:
            return []
        if self.fmt in SFT_FORMATS:
            return [format_row(rec, self.fmt, with_meta=self.with_meta, prompt=prompt,
                               completion=self.completion(rec.completion))]
        assert trace is not None
        build = {"dpo": self.dpo, "reflection": self.reflection, "prm": self.prm}[self.fmt]
        return build(rec, trace, prompt)

    def _fixed(self, trace: Trace) -> tuple[Attempt | None, list[Attempt]]:
        """(the verified attempt, the attempts before it)."""
        accepted = trace.accepted_attempt
        if accepted is None or not accepted.ok:
            return None, []
        attempts = _sorted_attempts(trace)
        return accepted, attempts[:next(i for i, a in enumerate(attempts) if a is accepted)]

    def dpo(self, rec: Record, trace: Trace, prompt: Messages) -> list[dict[str, Any]]:
        """chosen = the verified revision; rejected = the stage-1 failure (``stage1``) or each failure."""
        chosen, before = self._fixed(trace)
        if chosen is None or chosen.stage == "cot":
            self.skipped["accepted_at_stage_1" if chosen is not None else "no_verified_attempt"] += 1
            return []
        failed = [a for a in before if not a.ok and (self.opts.dpo_pairs == "all" or a.stage == "cot")]
        good = self.completion(chosen.solution)
        rows = []
        for a in failed:
            bad = self.completion(a.solution)
            if not bad.strip() or bad == good:
                continue
            row: dict[str, Any] = {"prompt": prompt, "chosen": [{"role": "assistant", "content": good}],
                                   "rejected": [{"role": "assistant", "content": bad}]}
            if self.with_meta:
                row["meta"] = _meta(rec, rejected_stage=a.stage, rejected_round=a.round)
            rows.append(row)
        if not rows:
            self.skipped["no_failed_attempt"] += 1
        return rows

    def reflection(self, rec: Record, trace: Trace, prompt: Messages) -> list[dict[str, Any]]:
        """question, attempt, critique, revision, ... ending in the verified solution."""
        final, before = self._fixed(trace)
        if final is None or not before:
            self.skipped["accepted_at_stage_1" if final is not None else "no_verified_attempt"] += 1
            return []
        shown = final.stage == "with_answer" or trace.answer_shown
        if shown and self.opts.reflection_answer_shown == "exclude":
            self.skipped["answer_shown"] += 1
            return []
        messages = list(prompt)
        for prev, nxt in zip(before, [*before[1:], final]):
            feedback = (nxt.critique or "").strip()
            if not feedback:
                self.skipped["no_critique"] += 1
                return []
            if nxt.stage == "with_answer":
                gold = trace.question.gold if trace.question else ""
                feedback += "\n\n" + ANSWER_SHOWN_MARK.format(answer=gold)
            messages += [{"role": "assistant", "content": self.completion(prev.solution)},
                         {"role": "user", "content": feedback}]
        messages.append({"role": "assistant", "content": self.completion(final.solution)})
        row: dict[str, Any] = {"messages": messages}
        if self.with_meta:
            row["meta"] = _meta(rec, rounds=len(before), answer_shown_marked=shown)
        return [row]

    def prm(self, rec: Record, trace: Trace, prompt: Messages) -> list[dict[str, Any]]:
        """One row per attempt the steps verifier labelled: its lines as steps, each with a bool label."""
        _, user = _split_prompt(prompt)
        rows = []
        for a in _sorted_attempts(trace):
            steps = step_labels(a, self.opts.prm_unchecked)
            steps = [(self.completion(text), ok) for text, ok in steps]
            steps = [(text, ok) for text, ok in steps if text.strip()]
            if not steps:
                continue
            row: dict[str, Any] = {"prompt": user, "completions": [t for t, _ in steps],
                                   "labels": [ok for _, ok in steps]}
            if self.with_meta:
                row["meta"] = _meta(rec, attempt_stage=a.stage, attempt_round=a.round, attempt_ok=a.ok)
            rows.append(row)
        if not rows:
            self.skipped["no_step_labels"] += 1
        return rows


def step_labels(attempt: Attempt, unchecked: str = "skip") -> list[tuple[str, bool]]:
    """The attempt's solution lines with the steps verifier's label: wrong if a claim on the line is wrong,
    right if one is right and none wrong, else unchecked (left out, or labelled by ``unchecked``).
    Empty when the steps verifier checked nothing on the attempt."""
    verdict = next((v for v in attempt.verdicts if v.verifier == "steps"), None)
    claims = (verdict.details.get("steps") or []) if verdict is not None else []
    if not any(c.get("status") in ("ok", "wrong") for c in claims):
        return []
    status: dict[int, str] = {}
    for c in claims:
        line, s = int(c.get("line") or 0), c.get("status")
        if s == "wrong" or (s == "ok" and status.get(line) != "wrong"):
            status[line] = s
    out = []
    for n, text in enumerate(attempt.solution.splitlines(), start=1):
        if not text.strip():
            continue
        s = status.get(n)
        if s is None and unchecked == "skip":
            continue
        out.append((text.strip(), s == "ok" if s is not None else unchecked == "true"))
    return out


# --- dedup and decontamination -------------------------------------------------------------------

def _digest(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def record_key(rec: Record) -> tuple[str, str, str]:
    """(question content hash, solution hash, pipeline version): two records with one key are one."""
    return _digest(rec.prompt), _digest(rec.completion), str(rec.provenance.get("pipeline_version") or "")


def row_key(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in row.items() if k != "meta"}, sort_keys=True,
                                     ensure_ascii=False).encode()).hexdigest()


def unique_records(records: Sequence[Record]) -> tuple[list[Record], int]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for rec in records:
        key = record_key(rec)
        if key not in seen:
            seen.add(key)
            out.append(rec)
    return out, len(records) - len(out)


def default_benchmarks(settings: Settings) -> list[str]:
    """Every named benchmark: the bundled minis, the workspace's and ``benchmark_dirs``'."""
    from scireflect.evaluation.benchmarks import available

    return sorted(available(settings))


def run_decontam(records: Sequence[Record], settings: Settings, options: ExportOptions) -> tuple[Any, float]:
    """(DecontamReport, seconds) of ``records`` against the chosen benchmarks."""
    from scireflect.training.decontam import decontaminate

    against = list(options.against) or default_benchmarks(settings)
    if not against:
        raise ConfigError("no benchmarks to decontaminate against: name them with --against NAME_OR_PATH, or "
                          "pass --no-decontaminate")
    start = time.perf_counter()
    report = decontaminate(list(records), against, settings, methods=tuple(options.decontam_methods))
    return report, time.perf_counter() - start


def flag_dict(flag: Any) -> dict[str, Any]:
    return asdict(flag)


# --- collecting ----------------------------------------------------------------------------------

@dataclass
class Collected:
    """The rows of one export with what was left out and why."""

    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (question id, row)
    records: list[Record] = field(default_factory=list)  # records that gave at least one row
    considered: int = 0  # records matching the filters
    duplicates: dict[str, int] = field(default_factory=lambda: {"records": 0, "rows": 0})
    skipped: dict[str, int] = field(default_factory=dict)
    decontam: Any = None
    decontam_seconds: float = 0.0
    decontam_excluded: int = 0


def _check(fmt: str, flt: dict[str, Any]) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    unknown = set(flt) - FILTER_KEYS
    if unknown:
        raise ConfigError(f"unknown export filter(s): {', '.join(sorted(unknown))}")
    ms = flt.get("min_score")
    if ms is not None and not 0.0 <= float(ms) <= 1.0:
        raise InputError(f"--min-score must be between 0 and 1, not {ms}")


def _open(settings: Settings, stores: Any = None) -> tuple[Any, Any]:
    """(Stores, stores to close or None)."""
    if stores is not None:
        return stores, None
    from scireflect.store import open_stores

    opened = open_stores(settings)
    return opened, opened


def load_traces(stores: Any, ids: Sequence[str], with_events: bool) -> dict[str, Trace]:
    """The traces of ``ids`` (with their retrieve events when asked), a few hundred per query."""
    from sqlalchemy import select

    from scireflect.store.tables import events, traces
    from scireflect.store.traces import _trace_from_row

    out: dict[str, Trace] = {}
    for i in range(0, len(ids), 500):
        part = list(ids[i:i + 500])
        with stores.engine.connect() as conn:
            rows = conn.execute(select(traces).where(traces.c.id.in_(part))).mappings().all()
            evs: dict[str, list[dict[str, Any]]] = {}
            if with_events:
                q = select(events).where(events.c.trace_id.in_(part), events.c.node == "retrieve")
                for e in conn.execute(q.order_by(events.c.seq)).mappings():
                    evs.setdefault(e["trace_id"], []).append(dict(e))
        for r in rows:
            out[r["id"]] = _trace_from_row(r, evs.get(r["id"], []))
    return out


def collect_rows(settings: Settings, fmt: str = "chatml", *, options: ExportOptions | None = None,
                 stores: Any = None, with_meta: bool = False, **filters: Any) -> Collected:
    """The deduplicated rows of the matching records in ``fmt``; decontaminated unless options say no."""
    opts = options or ExportOptions()
    _check(fmt, filters)
    opts.check()
    st, opened = _open(settings, stores)
    try:
        got = Collected()
        records = list(st.records.iter(**filters))
        got.considered = len(records)
        records, got.duplicates["records"] = unique_records(records)
        if opts.decontaminate and records:
            got.decontam, got.decontam_seconds = run_decontam(records, settings, opts)
            flagged = set(got.decontam.flagged_ids())
            got.decontam_excluded = sum(1 for r in records if r.trace_id in flagged)
            records = [r for r in records if r.trace_id not in flagged]
        traces = load_traces(st, [r.trace_id for r in records], with_events=opts.with_passages)
        builder, seen = RowBuilder(settings, fmt, opts, with_meta), set()
        for rec in records:
            rows = builder.rows(rec, traces.get(rec.trace_id))
            fresh = [r for r in rows if row_key(r) not in seen]
            got.duplicates["rows"] += len(rows) - len(fresh)
            seen.update(row_key(r) for r in fresh)
            got.rows += [(rec.question_id, r) for r in fresh]
            if fresh:
                got.records.append(rec)
        got.skipped = dict(builder.skipped)
        return got
    finally:
        if opened is not None:
            opened.close()


def iter_export_rows(settings: Settings, fmt: str = "chatml", *, stores: Any = None, with_meta: bool = False,
                     options: ExportOptions | None = None, **filters: Any) -> Iterator[dict[str, Any]]:
    """Rows of the matching records in ``fmt`` (filters: min_score, subject, stage, include_answer_shown,
    include_rejected, run_id, decision, pipeline_version), deduplicated; not decontaminated unless
    ``options`` ask for it."""
    opts = options or ExportOptions(decontaminate=False)
    for _, row in collect_rows(settings, fmt, options=opts, stores=stores, with_meta=with_meta, **filters).rows:
        yield row


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


def split_collected(got: Collected, split: float | None, seed: int) -> dict[str, list[dict[str, Any]]]:
    if split is None:
        return {"train": [row for _, row in got.rows]}
    train_q = split_questions([q for q, _ in got.rows], split, seed)
    out: dict[str, list[dict[str, Any]]] = {"train": [], "validation": []}
    for q, row in got.rows:
        out["train" if q in train_q else "validation"].append(row)
    return out


def split_rows(settings: Settings, fmt: str = "chatml", *, split: float = 0.9, seed: int = 0, stores: Any = None,
               with_meta: bool = False, options: ExportOptions | None = None,
               **filters: Any) -> dict[str, list[dict[str, Any]]]:
    """{"train": rows, "validation": rows}, split by question; not decontaminated unless ``options`` ask."""
    opts = options or ExportOptions(decontaminate=False)
    got = collect_rows(settings, fmt, options=opts, stores=stores, with_meta=with_meta, **filters)
    return split_collected(got, split, seed)


# --- writing -------------------------------------------------------------------------------------

@dataclass
class ExportResult:
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    hf_dataset: Path | None = None
    warning: str | None = None
    collected: Collected = field(default_factory=Collected)
    decontam_file: Path | None = None
    card: Path | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> dict[str, Any]:
        """What the CLI prints with --json."""
        got, report = self.collected, self.collected.decontam
        decontam = None if report is None else {
            "checked": report.checked, "benchmarks": report.benchmarks, "flags": len(report.flags),
            "excluded": got.decontam_excluded, "seconds": round(got.decontam_seconds, 3),
            "list": str(self.decontam_file) if self.decontam_file else None}
        return {"counts": self.counts, "files": {k: str(v) for k, v in self.files.items()},
                "hf_dataset": str(self.hf_dataset) if self.hf_dataset else None,
                "card": str(self.card) if self.card else None, "records": got.considered,
                "records_exported": len(got.records), "duplicates_dropped": dict(got.duplicates),
                "skipped": dict(got.skipped), "decontamination": decontam}


def split_paths(out: Path) -> dict[str, Path]:
    """``sft.jsonl`` -> ``sft.train.jsonl`` and ``sft.validation.jsonl``."""
    suffix = out.suffix or ".jsonl"
    return {side: out.with_name(f"{out.stem}.{side}{suffix}") for side in ("train", "validation")}


def decontam_path(out: Path | None, hf_dataset: Path | None) -> Path:
    """``sft.jsonl`` -> ``sft.decontam.json`` beside it; else ``DIR/decontam.json`` of the dataset."""
    if out is not None:
        return out.with_name(f"{out.stem}.decontam.json")
    assert hf_dataset is not None
    return hf_dataset / "decontam.json"


def _regular_or_new(path: Path) -> bool:
    return not path.exists() or path.is_file()


def _check_outputs(out: Path | None, split: float | None, hf_dataset: Path | None) -> None:
    from scireflect.files import OutputError, check_output

    if out is not None:
        for p in (split_paths(out).values() if split is not None else [out]):
            check_output(p)
    if hf_dataset is not None:
        if hf_dataset.exists() and not hf_dataset.is_dir():
            raise OutputError(f"cannot write a dataset to {hf_dataset}: it exists and is not a directory")
        if not hf_dataset.parent.is_dir():
            raise OutputError(f"cannot write a dataset to {hf_dataset}: directory {hf_dataset.parent} does not "
                              "exist (create it first)")


def _write_text(path: Path, text: str) -> None:
    from scireflect.files import write_output

    write_output(path, text)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    _write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def write_decontam(path: Path, report: Any, methods: Sequence[str]) -> None:
    data = {"checked": report.checked, "methods": list(methods), "benchmarks": report.benchmarks,
            "settings": report.settings, "flags": [flag_dict(f) for f in report.flags]}
    _write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def save_hf_dataset(parts: dict[str, list[dict[str, Any]]], directory: Path) -> Path:
    try:
        from datasets import Dataset, DatasetDict
    except ImportError as e:
        raise missing_dependency("datasets", "classifier") from e
    dd = DatasetDict({side: Dataset.from_list(rows) if rows else Dataset.from_dict({}) for side, rows in parts.items()})
    dd.save_to_disk(str(directory))
    return directory


def card_text(got: Collected, settings: Settings, command: str, fmt: str | None, options: ExportOptions) -> str:
    """The dataset card (``scireflect.store.card``) of the collected records."""
    from scireflect.store.card import dataset_card

    extra = {"rows": len(got.rows), "records_considered": got.considered, "duplicates_dropped": dict(got.duplicates),
             "skipped": dict(got.skipped), "with_passages": options.with_passages,
             "decontam_methods": list(options.decontam_methods) if options.decontaminate else []}
    if fmt == "dpo":
        extra["dpo_pairs"] = options.dpo_pairs
    elif fmt == "prm":
        extra["prm_unchecked"] = options.prm_unchecked
    elif fmt == "reflection":
        extra["reflection_answer_shown"] = options.reflection_answer_shown
    return dataset_card(got.records, settings=settings, command=command, decontam=got.decontam,
                        export_format=fmt, extra=extra)


def export(settings: Settings, out: Path | None, fmt: str = "chatml", *, split: float | None = None, seed: int = 0,
           hf_dataset: Path | None = None, with_meta: bool = False, stores: Any = None,
           options: ExportOptions | None = None, command: str | None = None, **filters: Any) -> ExportResult:
    """Write the matching records to ``out`` (or its train/validation pair) and/or a dataset folder with its
    card (``DIR/README.md``); flagged records are listed in ``decontam_path(out, hf_dataset)``."""
    if out is None and hf_dataset is None:
        raise InputError("nothing to write: give --out FILE and/or --hf-dataset DIR")
    opts = options or ExportOptions()
    if split is not None and not 0.0 < split < 1.0:
        raise InputError(f"--split must be between 0 and 1 (the train share), not {split}")
    _check_outputs(out, split, hf_dataset)  # before the work: a bad path is one line, not a lost export
    got = collect_rows(settings, fmt, options=opts, stores=stores, with_meta=with_meta, **filters)
    parts = split_collected(got, split, seed)
    result = ExportResult(counts={side: len(rows) for side, rows in parts.items()}, collected=got)
    if out is not None:
        paths = split_paths(out) if split is not None else {"train": out}
        for side, rows in parts.items():
            _write_jsonl(paths[side], rows)
        result.files = paths
    if hf_dataset is not None:
        result.hf_dataset = save_hf_dataset(parts, hf_dataset)
        result.card = hf_dataset / "README.md"
        _write_text(result.card, card_text(got, settings, command or "scireflect store export", fmt, opts))
    if got.decontam is not None and (out is None or _regular_or_new(out)):
        # (beside a device or pipe such as /dev/stdout there is no place for it: the summary lists the flags)
        result.decontam_file = decontam_path(out, hf_dataset)
        write_decontam(result.decontam_file, got.decontam, opts.decontam_methods)
    if result.total == 0:
        active = {k: v for k, v in filters.items() if v not in (None, False, True) or k == "include_answer_shown"
                  and v is False}
        result.warning = ("no records match" + (f" the filters {active}" if active else "") +
                          "; wrote an empty export") if not got.considered else (
            f"none of {got.considered} matching record(s) gave a {fmt} row (left out: {got.skipped or 'none'}, "
            f"decontaminated: {got.decontam_excluded}); wrote an empty export")
        log.warning(result.warning)
    return result
