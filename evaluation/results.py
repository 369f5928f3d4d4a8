"""Evaluation results under ``HOME/eval/RUN/``: ``run.json`` (configuration, prompts, summary) and
``items.jsonl`` (one record per scored item, appended as it is scored, so a killed run keeps its work
and a rerun skips what is already scored)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from scireflect.errors import InputError, StoreError
from scireflect.settings import Settings

META = "run.json"
ITEMS = "items.jsonl"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,119}$")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-.")[:40] or "x"


class EvalStore:
    """Evaluation runs of one workspace."""

    def __init__(self, settings: Settings):
        self.root = settings.path("eval", "_").parent

    def dir(self, run_id: str) -> Path:
        if not _SAFE.match(run_id):
            raise InputError(f"invalid run name {run_id!r}: use letters, digits, '.', '_', '+', '-'")
        return self.root / run_id

    def exists(self, run_id: str) -> bool:
        return (self.dir(run_id) / META).is_file()

    def read_meta(self, run_id: str) -> dict[str, Any]:
        path = self.dir(run_id) / META
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise InputError(f"no evaluation run {run_id!r} in {self.root}") from e
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"cannot read {path}: {e}") from e

    def write_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        d = self.dir(run_id)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / (META + ".tmp")
        try:
            tmp.write_text(json.dumps(meta, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, d / META)  # atomic: a crash never leaves half a run.json
        except OSError as e:
            raise StoreError(f"cannot write {d / META}: {e}") from e

    def read_items(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Records by item id; a later record of an id replaces an earlier one (a retried error), and
        a line cut short by a kill is ignored (that item is simply done again)."""
        path = self.dir(run_id) / ITEMS
        out: dict[str, dict[str, Any]] = {}
        if not path.exists():
            return out
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and "id" in rec:
                    out[str(rec["id"])] = rec
        return out

    def append(self, run_id: str, record: dict[str, Any]) -> None:
        path = self.dir(run_id) / ITEMS
        line = json.dumps(record, default=str, ensure_ascii=False)
        try:
            with path.open("a", encoding="utf-8") as fh:
                if fh.tell() and not _ends_with_newline(path):
                    fh.write("\n")  # after a torn last line, start a fresh one
                fh.write(line + "\n")
        except OSError as e:
            raise StoreError(f"cannot write {path}: {e}") from e

    def remove(self, run_id: str) -> None:
        d = self.dir(run_id)
        for name in (ITEMS, META):
            (d / name).unlink(missing_ok=True)

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique id prefix, or a path to a run folder."""
        p = Path(ref)
        if (p / META).is_file() and p.resolve().parent == self.root.resolve():
            return p.name
        if (p / META).is_file():
            raise InputError(f"{ref} is an evaluation run of another workspace; use --home {p.resolve().parent.parent}")
        if _SAFE.match(ref) and self.exists(ref):
            return ref
        ids = [m["id"] for m in self.list_runs() if str(m.get("id", "")).startswith(ref)]
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            raise InputError(f"run name {ref!r} is ambiguous: {', '.join(ids[:6])}")
        raise InputError(f"no evaluation run {ref!r} in {self.root} (see: scireflect eval list)")

    def list_runs(self) -> list[dict[str, Any]]:
        runs = []
        if not self.root.is_dir():
            return runs
        for d in sorted(self.root.iterdir()):
            if (d / META).is_file():
                try:
                    runs.append(json.loads((d / META).read_text(encoding="utf-8")))
                except (OSError, json.JSONDecodeError):
                    runs.append({"id": d.name, "status": "unreadable"})
        return sorted(runs, key=lambda m: str(m.get("started_at", "")), reverse=True)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
