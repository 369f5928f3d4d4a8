"""Training data in, conversations out: every supported format becomes a list of chat messages.

Formats (detected per file from its first record, then required of every record): chatml
``{"messages": [...]}``, prompt-completion ``{"prompt", "completion"}``, alpaca
``{"instruction", "input", "output"}`` and sharegpt ``{"conversations": [{"from", "value"}]}``.
Sources: a JSONL (or JSON array) file, a ``datasets`` dataset saved to disk, or the record store.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from scireflect.errors import ConfigError, InputError, missing_dependency
from scireflect.settings import Settings

log = logging.getLogger("scireflect.training")

ROLES = ("system", "user", "assistant")
# Keys of ``--filter``-style store options that are not record filters: the decontamination choice of
# ``train --from-store`` (on by default, as for ``store export``).
DECONTAM_KEYS = ("decontaminate", "against", "decontam_method")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "model": "assistant"}

# Format name -> the fields a record must have (for detection and for the error message).
FORMATS: dict[str, tuple[str, ...]] = {
    "chatml": ("messages",),
    "prompt_completion": ("prompt", "completion"),
    "alpaca": ("instruction", "output"),
    "sharegpt": ("conversations",),
}
MAX_LISTED_ERRORS = 5


@dataclass
class Example:
    """One conversation to train on and where it came from (``file:line`` or ``store row N``)."""

    messages: list[dict[str, str]]
    where: str


class RecordError(ValueError):
    """A record lacks the fields its format needs; the loader adds the file and line."""


def detect_format(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    for name, fields in FORMATS.items():
        if all(f in record for f in fields):
            return name
    return None


def _text(record: dict[str, Any], key: str, fmt: str) -> str:
    value = record.get(key)
    if value is None:
        raise RecordError(f"missing field {key!r} ({fmt} format)")
    if not isinstance(value, str):
        raise RecordError(f"field {key!r} must be a string, got {type(value).__name__} ({fmt} format)")
    return value


def _checked(messages: list[dict[str, str]], fmt: str) -> list[dict[str, str]]:
    if not any(m["role"] == "assistant" and m["content"].strip() for m in messages):
        raise RecordError(f"no non-empty assistant message to train on ({fmt} format)")
    while messages and messages[-1]["role"] != "assistant":
        messages = messages[:-1]  # trailing prompts have no answer to learn from
    return messages


def _chatml(record: dict[str, Any]) -> list[dict[str, str]]:
    raw = record.get("messages")
    if not isinstance(raw, list) or not raw:
        raise RecordError("field 'messages' must be a non-empty list (chatml format)")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise RecordError(f"messages[{i}] needs 'role' and 'content' (chatml format)")
        if m["role"] not in ROLES:
            raise RecordError(f"messages[{i}] has unknown role {m['role']!r}; expected one of {', '.join(ROLES)}")
        if not isinstance(m["content"], str):
            raise RecordError(f"messages[{i}].content must be a string (chatml format)")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _sharegpt(record: dict[str, Any]) -> list[dict[str, str]]:
    raw = record.get("conversations")
    if not isinstance(raw, list) or not raw:
        raise RecordError("field 'conversations' must be a non-empty list (sharegpt format)")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or "from" not in m or "value" not in m:
            raise RecordError(f"conversations[{i}] needs 'from' and 'value' (sharegpt format)")
        role = SHAREGPT_ROLES.get(str(m["from"]).lower())
        if role is None:
            raise RecordError(f"conversations[{i}] has unknown 'from' {m['from']!r}; expected human, gpt or system")
        if not isinstance(m["value"], str):
            raise RecordError(f"conversations[{i}].value must be a string (sharegpt format)")
        out.append({"role": role, "content": m["value"]})
    return out


def to_messages(record: Any, fmt: str) -> list[dict[str, str]]:
    """The record as chat messages, or a RecordError naming the missing or malformed field."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if fmt == "chatml":
        messages = _chatml(record)
    elif fmt == "sharegpt":
        messages = _sharegpt(record)
    elif fmt == "prompt_completion" and isinstance(record.get("prompt"), list):
        # TRL's conversational prompt-completion: both sides are message lists
        if not isinstance(record.get("completion"), list):
            raise RecordError("field 'completion' must be a message list when 'prompt' is one (prompt_completion)")
        messages = _chatml({"messages": record["prompt"] + record["completion"]})
    elif fmt == "prompt_completion":
        messages = [{"role": "user", "content": _text(record, "prompt", fmt)},
                    {"role": "assistant", "content": _text(record, "completion", fmt)}]
    elif fmt == "alpaca":
        instruction = _text(record, "instruction", fmt)
        extra = record.get("input") or ""
        if not isinstance(extra, str):
            raise RecordError("field 'input' must be a string (alpaca format)")
        prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": _text(record, "output", fmt)}]
    else:
        raise ConfigError(f"unknown data format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return _checked(messages, fmt)


def _describe_formats() -> str:
    return "; ".join(f"{name}: {', '.join(fields)}" for name, fields in FORMATS.items())


def convert_rows(rows: Iterable[tuple[str, int | None, Any]], source: str,
                 skip_bad: bool = False) -> tuple[list[Example], list[str]]:
    """Rows ``(path, line, record)`` -> examples. Bad records fail the load (or are skipped with ``skip_bad``).

    Every bad record is reported, not just the first, so one pass fixes the file.
    """
    fmt: str | None = None
    examples: list[Example] = []
    bad: list[InputError] = []
    for path, line, record in rows:
        where = f"{path}:{line}" if line is not None else path
        if fmt is None:
            fmt = detect_format(record)
            if fmt is None:
                keys = sorted(record) if isinstance(record, dict) else type(record).__name__
                bad.append(InputError(f"record has no known training fields (found {keys}); expected one of "
                                      f"{_describe_formats()}", path=path, line=line))
                continue
        try:
            examples.append(Example(messages=to_messages(record, fmt), where=where))
        except RecordError as e:
            bad.append(InputError(str(e), path=path, line=line))
    skipped = [str(e) for e in bad]
    if bad and not skip_bad:
        first = bad[0]
        more = ""
        if len(bad) > 1:
            lines = [str(e.line) for e in bad[1:MAX_LISTED_ERRORS + 1] if e.line is not None]
            more = f" (and {len(bad) - 1} more bad record(s)" + (f", lines {', '.join(lines)}" if lines else "")
            more += "; pass --skip-bad to train on the rest)"
        raise InputError(first.reason + more, path=first.path, line=first.line)
    if not examples:
        raise InputError("no training records" + (f" ({len(bad)} bad record(s) skipped)" if bad else ""),
                         path=source)
    return examples, skipped


# --- sources ----------------------------------------------------------------------------------

def _jsonl_rows(path: Path) -> Iterator[tuple[str, int | None, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield str(path), n, json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"invalid JSON: {e.msg} (column {e.colno})", path=str(path), line=n) from None


def _json_array_rows(path: Path) -> Iterator[tuple[str, int | None, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", path=str(path), line=e.lineno) from None
    if not isinstance(data, list):
        raise InputError("a .json training file must hold a list of records (or use JSONL)", path=str(path))
    for i, record in enumerate(data):
        yield f"{path}[{i}]", None, record


def _dataset_rows(path: Path) -> tuple[Iterator[tuple[str, int | None, Any]],
                                       Iterator[tuple[str, int | None, Any]] | None]:
    try:
        from datasets import DatasetDict, load_from_disk
    except ImportError as e:
        raise missing_dependency("datasets", "train") from e
    try:
        ds = load_from_disk(str(path))
    except Exception as e:
        raise InputError(f"not a dataset saved with datasets.save_to_disk: {e}", path=str(path)) from e
    val = None
    if isinstance(ds, DatasetDict):
        if "train" not in ds:
            raise InputError(f"dataset has no 'train' split (splits: {', '.join(ds)})", path=str(path))
        for name in ("validation", "valid", "val", "test"):
            if name in ds and len(ds[name]):
                val = ((f"{path}[{name}]", i + 1, row) for i, row in enumerate(ds[name]))
                break
        ds = ds["train"]
    return ((f"{path}[train]" if val else str(path), i + 1, row) for i, row in enumerate(ds)), val


@dataclass
class LoadedData:
    train: list[Example]
    validation: list[Example] | None  # from the source itself (a dataset's validation split)
    skipped: list[str]
    source: str
    # What the store path left out before conversion: {"duplicates": n, "decontaminated": n, "flags": [...]}.
    excluded: dict[str, Any] = field(default_factory=dict)


def load_file(path: Path, skip_bad: bool = False) -> LoadedData:
    """Examples from a JSONL/JSON file or a saved ``datasets`` directory."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError("training data not found", path=str(path))
    if path.is_dir():
        rows, val_rows = _dataset_rows(path)
        train, skipped = convert_rows(rows, str(path), skip_bad)
        val = None
        if val_rows is not None:
            val, val_skipped = convert_rows(val_rows, str(path), skip_bad)
            skipped = [*skipped, *val_skipped]
        return LoadedData(train, val, skipped, str(path))
    if path.stat().st_size == 0:
        raise InputError("training data file is empty", path=str(path))
    rows = _json_array_rows(path) if path.suffix == ".json" else _jsonl_rows(path)
    train, skipped = convert_rows(rows, str(path), skip_bad)
    return LoadedData(train, None, skipped, str(path))


def load_store(settings: Settings, filters: dict[str, Any] | None = None, skip_bad: bool = False,
               val_split: float = 0.0, seed: int = 0) -> LoadedData:
    """Examples read through the record store's export (chatml rows with the student prompt), deduplicated and,
    unless ``filters`` say ``decontaminate: false``, without the records that match a benchmark item
    (``against``: names or paths, default every named benchmark; ``decontam_method``: list of methods).

    With a validation share the split is by question, so records of one question never sit on both
    sides (they would leak the answer into the validation loss).
    """
    try:
        from scireflect.store import export as store_export
    except ImportError as e:
        raise ConfigError("--from-store needs the record store export (scireflect.store.export), which this "
                          "installation does not have; export to a file with `scireflect store export` and "
                          "pass --data FILE") from e
    filters = dict(filters or {})
    decontam = {k: filters.pop(k) for k in DECONTAM_KEYS if k in filters}
    if getattr(store_export, "collect_rows", None) is not None:
        sides, excluded = _collected_rows(store_export, settings, filters, decontam, val_split, seed)
    else:
        sides, excluded = _exported_rows(store_export, settings, filters, val_split, seed), {}
    train_rows, val_rows = sides["train"], sides.get("validation")
    if not train_rows:
        raise InputError("no training records in the store match" + (f" the filters {filters}" if filters else "")
                         + (f" ({excluded['decontaminated']} left out by decontamination)"
                            if excluded.get("decontaminated") else ""), path="the record store")
    train, skipped = convert_rows((("store train row", i + 1, r) for i, r in enumerate(train_rows)),
                                  "the record store", skip_bad)
    val = None
    if val_rows is not None:
        val, val_skipped = convert_rows((("store validation row", i + 1, r) for i, r in enumerate(val_rows)),
                                        "the record store", skip_bad)
        skipped = [*skipped, *val_skipped]
    return LoadedData(train, val, skipped, "store", excluded)


def _exported_rows(store_export: Any, settings: Settings, filters: dict[str, Any], val_split: float,
                   seed: int) -> dict[str, list[Any]]:
    """Rows from an export module without ``collect_rows`` (older or stand-in), identical rows of a side dropped."""
    fn = getattr(store_export, "iter_export_rows", None)
    if fn is None:
        raise ConfigError("--from-store needs scireflect.store.export.iter_export_rows, which this installation "
                          "does not provide; export to a file and pass --data FILE")
    split = getattr(store_export, "split_rows", None)
    try:
        if val_split > 0 and split is not None:
            sides = split(settings, fmt="chatml", split=1.0 - val_split, seed=seed, **filters)
        else:
            sides = {"train": list(fn(settings, fmt="chatml", **filters))}
    except TypeError as e:  # a filter the export does not know
        raise ConfigError(f"the store export rejected the filters {sorted(filters)}: {e}") from e
    out: dict[str, list[Any]] = {}
    for side, rows in sides.items():
        out[side] = []
        seen: set[str] = set()
        for row in rows:
            key = json.dumps({k: v for k, v in row.items() if k != "meta"}, sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                out[side].append(row)
    return out


def _collected_rows(store_export: Any, settings: Settings, filters: dict[str, Any], decontam: dict[str, Any],
                    val_split: float, seed: int) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Rows through the export's own dedup and decontamination; what was left out is logged."""
    methods = decontam.get("decontam_method") or store_export.DEFAULT_DECONTAM_METHODS
    against = decontam.get("against") or ()
    opts = store_export.ExportOptions(decontaminate=bool(decontam.get("decontaminate", True)),
                                      against=tuple([against] if isinstance(against, str) else against),
                                      decontam_methods=tuple([methods] if isinstance(methods, str) else methods))
    got = store_export.collect_rows(settings, "chatml", options=opts, **filters)
    sides = store_export.split_collected(got, 1.0 - val_split if val_split > 0 else None, seed)
    dup = sum(got.duplicates.values())
    if dup:
        log.info("store: dropped %d duplicate record(s)/row(s) of %d", dup, got.considered)
    flags = [store_export.flag_dict(f) for f in got.decontam.flags] if got.decontam is not None else []
    if got.decontam is not None:
        log.warning("decontamination (%s against %s, %.1fs): left out %d of %d record(s)",
                    ", ".join(opts.decontam_methods), ", ".join(got.decontam.benchmarks),
                    got.decontam_seconds, got.decontam_excluded, got.considered - got.duplicates["records"])
        for f in flags:
            log.warning("decontaminated: record %s (question %s) matches %s item %s by %s (score %s)",
                        f.get("record_id"), f.get("question_id"), f.get("benchmark"), f.get("item_id"),
                        f.get("method"), f.get("score"))
    return sides, {"duplicates": dup, "decontaminated": got.decontam_excluded, "flags": flags}
