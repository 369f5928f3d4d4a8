"""Evaluation results under ``HOME/eval/RUN/``: ``run.json`` (configuration, prompts, summary) and
``items.jsonl`` (one record per scored item, appended as it is scored, so a killed run keeps its work
and a rerun skips what is already scored), plus the same results in lm-evaluation-harness's shape
(``results.json`` and ``samples_TASK_DATE.jsonl``), rewritten whenever a session ends, so leaderboard
tooling that reads the harness's output reads these runs too."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
from collections import Counter
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from scireflect.errors import InputError, StoreError
from scireflect.evaluation.stats import sem
from scireflect.schema import Question
from scireflect.settings import Settings

META = "run.json"
ITEMS = "items.jsonl"
HARNESS_RESULTS = "results.json"
TASK_VERSION = 1.0  # of how a subject becomes a task (prompt, scoring, metric); raise it when that changes
METRIC = "acc"
FILTER = "none"  # the verifier reads the whole output; no harness filter is applied
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
        for name in (ITEMS, META, HARNESS_RESULTS):
            (d / name).unlink(missing_ok=True)
        for f in d.glob("samples_*.jsonl"):
            f.unlink(missing_ok=True)

    def write_harness(self, run_id: str, results: dict[str, Any], samples: dict[str, list[dict[str, Any]]]) -> Path:
        """Replace the run's lm-evaluation-harness files: ``results.json`` and one samples file per task."""
        d = self.dir(run_id)
        date_id = datetime.now().isoformat().replace(":", "-")  # the harness's file-name date
        try:
            for old in d.glob("samples_*.jsonl"):
                old.unlink()
            for task, rows in samples.items():
                with (d / f"samples_{task}_{date_id}.jsonl").open("w", encoding="utf-8") as fh:
                    fh.writelines(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in rows)
            tmp = d / (HARNESS_RESULTS + ".tmp")
            tmp.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, d / HARNESS_RESULTS)
        except OSError as e:
            raise StoreError(f"cannot write lm-evaluation-harness results in {d}: {e}") from e
        return d / HARNESS_RESULTS

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


# lm-evaluation-harness export ------------------------------------------------------------------
# One task per subject and one group (the benchmark) over them; the metric is the verifier's
# accuracy, ``acc`` with filter ``none``, and its standard error is that of a mean of 0/1 outcomes.


def _name(text: str) -> str:
    return re.sub(r"\W+", "_", text).strip("_").lower() or "x"


def task_names(group: str, subjects: Iterable[str]) -> dict[str, str]:
    """A harness task name per subject (word characters only, like the harness's own), unique."""
    out: dict[str, str] = {}
    for subject in sorted(set(subjects)):
        name, k = f"{group}_{_name(subject)}", 2
        while name in out.values() or name == group:
            name, k = f"{group}_{_name(subject)}_{k}", k + 1
        out[subject] = name
    return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _score_entry(name: str, alias: str, k: int, n: int) -> dict[str, Any]:
    err = sem(k, n)
    return {"alias": alias, f"{METRIC},{FILTER}": k / n if n else 0.0,
            f"{METRIC}_stderr,{FILTER}": "N/A" if err is None else err, "name": name, "sample_len": n}


def _gen_kwargs(backend: dict[str, Any]) -> dict[str, Any]:
    temperature = float(backend.get("temperature") or 0.0)
    return {"until": [], "max_gen_toks": backend.get("max_tokens"), "do_sample": temperature > 0,
            "temperature": temperature}


def _model_config(meta: dict[str, Any]) -> dict[str, Any]:
    be, prompt = meta.get("backend") or {}, meta.get("prompt") or {}
    provider = be.get("provider")
    if provider == "hf":
        args = f"pretrained={be.get('base_dir') or be.get('model')},dtype=float32"
        adapter = be.get("adapter")
        if isinstance(adapter, dict):
            args += f",peft={adapter.get('path')}"
    elif provider == "openai":
        args = f"model={be.get('model')},base_url={','.join(be.get('endpoints') or [])}"
    else:
        args = f"model={be.get('model_path') or be.get('model')}"
    seed = be.get("seed")
    return {"model": {"openai": "local-chat-completions"}.get(str(provider), provider), "model_args": args,
            "batch_size": str(be.get("batch_size") or be.get("concurrency") or 1), "batch_sizes": [],
            "device": None if provider == "openai" else "cpu", "use_cache": None, "limit": meta.get("limit"),
            "bootstrap_iters": 0, "gen_kwargs": _gen_kwargs(be), "random_seed": seed, "numpy_seed": seed,
            "torch_seed": seed, "fewshot_seed": prompt.get("seed"), "threads": be.get("threads")}


def _task_config(task: str, subject: str, group: str, meta: dict[str, Any]) -> dict[str, Any]:
    bench, be, prompt = meta.get("benchmark") or {}, meta.get("backend") or {}, meta.get("prompt") or {}
    templates = prompt.get("templates") or {}
    return {"task": task, "task_alias": subject, "tag": group, "dataset_path": bench.get("path"),
            "dataset_name": subject, "test_split": "test",
            "fewshot_split": "dev" if bench.get("dev_items") else None,
            "doc_to_text": templates.get("question"), "doc_to_target": "answer", "description": "",
            "target_delimiter": " ", "fewshot_delimiter": "\n\n",
            "fewshot_config": {"sampler": "same subject when it has enough dev items, else the whole dev split",
                               "seed": prompt.get("seed"), "as_chat_turns": True},
            "num_fewshot": prompt.get("shots", 0),
            "metric_list": [{"metric": METRIC, "aggregation": "mean", "higher_is_better": True}],
            "output_type": "generate_until", "generation_kwargs": _gen_kwargs(be), "repeats": 1,
            "filter_list": [{"name": FILTER, "filter": [{"function": "take_first"}]}],
            "should_decontaminate": False,
            "metadata": {"version": TASK_VERSION, "scorer": "scireflect answer verifier",
                         "prompt_style": prompt.get("style"), "benchmark_digest": bench.get("digest"),
                         "templates_digest": prompt.get("templates_digest")}}


def _sample(doc_id: int, q: Question, rec: dict[str, Any], gen_kwargs: dict[str, Any]) -> dict[str, Any]:
    doc = q.model_dump(mode="json", exclude={"metadata", "retrieval", "lean_statement", "lean_imports"},
                       exclude_none=True)
    doc_text = json.dumps(doc, indent=2, ensure_ascii=False)
    prompt = json.dumps(rec.get("prompt") or [], ensure_ascii=False)  # chat messages, as the harness's chat APIs
    target = str(rec.get("gold") or q.gold)
    output = str(rec.get("output") or "")
    return {"doc_id": doc_id, "doc": doc, "target": target,
            "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": gen_kwargs}},
            "resps": [[output]], "filtered_resps": [output], "filter": FILTER, "metrics": [METRIC],
            "doc_hash": _sha(doc_text), "prompt_hash": _sha(prompt), "target_hash": _sha(target),
            METRIC: 1.0 if rec["ok"] else 0.0}  # every other key is a float metric in the harness's schema


def _system_message(records: Iterable[dict[str, Any]]) -> str | None:
    """The system message as sent (it depends only on the prompt style, so the first one stands for all)."""
    for rec in records:
        msgs = rec.get("prompt") or []
        if msgs and msgs[0].get("role") == "system":
            return str(msgs[0].get("content"))
    return None


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _timestamp(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(str(iso)).timestamp()
    except ValueError:
        return None


def harness_results(meta: dict[str, Any], questions: list[Question], records: dict[str, dict[str, Any]],
                    originals: Counter) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The run in lm-evaluation-harness's ``results.json`` shape and its per-task ``--log_samples``
    rows. ``questions`` are the run's items (after ``--limit``), ``originals`` counts each subject's
    items in the whole benchmark. Only scored items count, as in scireflect's own summary."""
    bench, be, prompt = meta.get("benchmark") or {}, meta.get("backend") or {}, meta.get("prompt") or {}
    group = _name(str(bench.get("name") or "benchmark"))
    subject_of = {q.id: q.subject or "general" for q in questions}
    names = task_names(group, set(subject_of.values()) | set(originals))
    gen_kwargs = _gen_kwargs(be)
    samples: dict[str, list[dict[str, Any]]] = {names[s]: [] for s in sorted(set(subject_of.values()))}
    effective: Counter = Counter()
    for q in questions:
        task = names[subject_of[q.id]]
        doc_id = effective[task]
        effective[task] += 1
        rec = records.get(q.id)
        if rec and rec.get("ok") is not None:
            samples[task].append(_sample(doc_id, q, rec, gen_kwargs))
    tasks = sorted(samples)
    alias = {t: s for s, t in names.items()}
    k_all = sum(int(r[METRIC]) for t in tasks for r in samples[t])
    n_all = sum(len(samples[t]) for t in tasks)
    group_entry = _score_entry(group, group, k_all, n_all) | {"sample_count": {f"{METRIC},{FILTER}": n_all}}
    results = {group: group_entry} | {
        t: _score_entry(t, alias[t], sum(int(r[METRIC]) for r in samples[t]), len(samples[t]))
        for t in tasks}
    shots = prompt.get("shots", 0)
    system = _system_message(records.values())
    timing = meta.get("timing") or {}
    model = _model_config(meta)
    started = _timestamp(meta.get("started_at"))
    ended = _timestamp(meta.get("updated_at"))
    out = {
        "results": results, "groups": {group: group_entry}, "group_subtasks": {group: tasks},
        "configs": {t: _task_config(t, alias[t], group, meta) for t in tasks},
        "versions": {group: TASK_VERSION} | {t: TASK_VERSION for t in tasks},
        "n-shot": {group: shots} | {t: shots for t in tasks},
        "higher_is_better": {group: {METRIC: True}} | {t: {METRIC: True} for t in tasks},
        "n-samples": {t: {"original": originals.get(alias[t], effective[t]), "effective": effective[t]}
                      for t in tasks},
        "config": model, "git_hash": _git_hash(), "date": started,
        "pretty_env_info": f"Python {platform.python_version()} on {platform.platform()}; "
                           f"torch {_version('torch')}; llama-cpp-python {_version('llama-cpp-python')}",
        # No lm_eval_version: the harness did not write this (its schema wants a version string there).
        "transformers_version": _version("transformers"), "upper_git_hash": None,
        "task_hashes": {t: _sha("".join(r["doc_hash"] + r["prompt_hash"] + r["target_hash"] for r in samples[t]))
                        for t in tasks},
        "model_source": model["model"], "model_name": be.get("model"),
        "model_name_sanitized": re.sub(r"[\"<>:/|\\?*\[\]]+", "__", str(be.get("model"))),
        "system_instruction": system, "system_instruction_sha": _sha(system) if system else None,
        "fewshot_as_multiturn": bool(shots), "chat_template": None, "chat_template_sha": None,
        "start_time": started, "end_time": ended,
        "total_evaluation_time_seconds": str(timing.get("elapsed_s")),
        "scireflect": {"run": meta.get("id"), "status": meta.get("status"), "config_digest": meta.get("config_digest"),
                       "producer": f"scireflect {_version('scireflect')}"},
    }
    return out, samples
