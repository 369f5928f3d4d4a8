"""Benchmarks by name or path: a file, or a folder of files in any mix of formats, split into
test items and a dev split (for few-shot examples) by file name, as the source datasets name them.

Dev files: ``X.dev.jsonl`` / ``X_dev.csv`` (MMLU) / ``X_sol.json`` (SciBench's worked solutions) or any
file in a ``dev/`` folder; ``_val`` files are left out. Named benchmarks are the files and folders in
the workspace's ``benchmarks/`` folder, in ``Settings.benchmark_dirs`` and, in a source checkout, in
``examples/benchmarks/``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from scireflect.errors import ConfigError, InputError
from scireflect.evaluation.formats import FORMATS, PARSERS, detect_format
from scireflect.schema import Question
from scireflect.settings import Settings

DATA_SUFFIXES = (".json", ".jsonl", ".csv")
_SPLIT = re.compile(r"[._-](test|dev|sol|val|validation)$", re.IGNORECASE)


@dataclass
class Benchmark:
    """Loaded items of one benchmark with what could not be loaded."""

    name: str
    path: Path
    items: list[Question]
    dev: list[Question] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: list[dict[str, object]] = field(default_factory=list)

    @property
    def formats(self) -> list[str]:
        return sorted({str(q.metadata.get("format")) for q in self.items})

    def digest(self) -> str:
        """A short hash of the test items, so a changed file is never resumed as the same run."""
        h = hashlib.sha256()
        for q in self.items:
            h.update(json.dumps([q.id, q.question, q.answer, q.choices, q.tolerance]).encode())
        return h.hexdigest()[:12]


def split_of(path: Path) -> str:
    """``test``, ``dev`` or ``val`` from the file name (or a ``dev``/``val`` parent folder)."""
    m = _SPLIT.search(path.name[: -len(path.suffix)] if path.suffix else path.name)
    tag = m.group(1).lower() if m else ""
    parent = path.parent.name.lower()
    if tag in ("dev", "sol") or parent == "dev":
        return "dev"
    if tag in ("val", "validation") or parent in ("val", "validation"):
        return "val"
    return "test"


def base_name(path: Path) -> str:
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return _SPLIT.sub("", stem)


def benchmark_dirs(settings: Settings) -> list[Path]:
    dirs = [settings.home / "benchmarks", *settings.benchmark_dirs]
    checkout = Path(__file__).resolve().parents[1] / "examples" / "benchmarks"
    if checkout.is_dir():
        dirs.append(checkout)
    return [d for d in dirs if d.is_dir()]


def available(settings: Settings) -> dict[str, Path]:
    """Named benchmarks: each test file (by its base name) and each folder in the benchmark dirs."""
    names: dict[str, Path] = {}
    for d in benchmark_dirs(settings):
        for p in sorted(d.iterdir()):
            if p.is_dir() and any(_data_files(p)):
                names.setdefault(p.name, p)
            elif p.suffix in DATA_SUFFIXES and split_of(p) == "test":
                names.setdefault(base_name(p), p)
    return names


def resolve(benchmark: str, settings: Settings) -> tuple[str, Path]:
    """(name, path) of a benchmark given by name or by path; an unknown name lists the known ones."""
    p = Path(benchmark).expanduser()
    if p.exists():
        return base_name(p.resolve()), p
    known = available(settings)
    if benchmark in known:
        return benchmark, known[benchmark]
    listing = ", ".join(sorted(known)) or "none (put files in HOME/benchmarks or set benchmark_dirs)"
    raise ConfigError(f"unknown benchmark {benchmark!r}: no such file and no benchmark of that name; "
                     f"available: {listing}")


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES)


def _companions(path: Path) -> list[Path]:
    """Dev files next to a single test file that belong to it (same base name)."""
    if split_of(path) != "test":
        return []
    return [p for p in sorted(path.parent.iterdir())
            if p != path and p.suffix in DATA_SUFFIXES and split_of(p) == "dev" and base_name(p) == base_name(path)]


def load_benchmark(benchmark: str, settings: Settings, fmt: str | None = None) -> Benchmark:
    """Load a benchmark by name or path. Bad records are collected in ``errors``; nothing is lost."""
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    name, path = resolve(benchmark, settings)
    if path.is_dir():
        files = [p for p in _data_files(path) if split_of(p) != "val"]
        test = [p for p in files if split_of(p) == "test"]
        dev = [p for p in files if split_of(p) == "dev"]
    else:
        test, dev = [path], _companions(path)
    if not test:
        raise InputError("no benchmark files (.json, .jsonl, .csv) with test items", path=str(path))
    bench = Benchmark(name=name, path=path, items=[])
    for split, group in (("test", test), ("dev", dev)):
        for f in group:
            _load_file(bench, f, split, fmt)
    if not bench.items:
        detail = f"; first problem: {bench.errors[0]}" if bench.errors else ""
        raise InputError(f"no valid items in benchmark {name!r}{detail}", path=str(path))
    _dedupe(bench.items)
    return bench


def _load_file(bench: Benchmark, f: Path, split: str, fmt: str | None) -> None:
    try:
        kind = fmt or detect_format(f)
    except InputError as e:
        bench.errors.append(e)
        return
    target = bench.items if split == "test" else bench.dev
    before, errors_before = len(target), len(bench.errors)
    for got in PARSERS[kind](f):
        (bench.errors if isinstance(got, InputError) else target).append(got)  # type: ignore[arg-type]
    bench.files.append({"path": str(f), "format": kind, "split": split, "items": len(target) - before,
                        "skipped": len(bench.errors) - errors_before})


def _dedupe(items: list[Question]) -> None:
    # Ids are unique within a file; two files of one folder may still share one (two JSONL files
    # numbered from 1). Per-item results are keyed by id, so make them unique across the benchmark.
    seen: dict[str, int] = {}
    for i, q in enumerate(items):
        n = seen.get(q.id, 0)
        seen[q.id] = n + 1
        if n:
            items[i] = q.model_copy(update={"id": f"{q.id}#{n + 1}"})
