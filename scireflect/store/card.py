"""The dataset card (``README.md`` of an exported HF dataset): what the records are and how they were made.

Everything on it is read from the records' provenance (stages, subjects, sources, pass rates, versions, models)
or passed in (the decontamination report, the command); the prompt and verifier versions of this installation are
computed here. The same records, report and command give the same text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from importlib import resources
from typing import Any, Iterable, Mapping, Sequence

from scireflect.schema import Record
from scireflect.settings import Settings

STAGES = {  # stage -> how its completion was obtained
    "cot": "the first solution, verified",
    "reflection": "revised after a critique, then verified",
    "with_answer": "revised with the reference answer shown, then verified",
}
FORMATS = {  # export format -> what one row holds
    "chatml": "`messages`: system and user turns (the student prompt), then the assistant's verified solution",
    "alpaca": "`instruction`, `input`, `output` (and what TRL needs to train on them)",
    "sharegpt": "`conversations`: `from`/`value` turns",
    "prompt-completion": "`prompt` and `completion`",
    "dpo": "`prompt`, `chosen` (the verified revision), `rejected` (the failed attempt it revised)",
    "reflection": "`messages`: attempt, critique and revision as turns",
    "prm": "`prompt`, `completions` (the solution's steps) and `labels` (the step checker's verdict per step)",
}
VERIFIER_SETTINGS = ("verifiers", "tolerance", "require_steps", "verifier_timeout_s")
# What decides a verdict: the verifiers and the extraction and reasoning split they read solutions through.
VERIFIER_SOURCES = (("scireflect.tools.verifiers", None), ("scireflect.tools", "extract.py"),
                    ("scireflect.tools", "reasoning.py"))
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"))
MAX_FLAGS_LISTED = 50


def dataset_card(records: Sequence[Record], *, settings: Settings, command: str, decontam: Any | None = None,
                 export_format: str | None = None, extra: dict[str, Any] | None = None) -> str:
    """README.md text (HF dataset card: YAML front matter with license, task_categories, size_categories; then
    markdown) for these records."""
    parts = [
        _front_matter(len(records), settings.dataset_license),
        "# scireflect verified reasoning traces\n",
        _summary(records, export_format),
        _composition(records),
        _versions(records, settings),
        _decontamination(decontam, records),
        _made_by(command, export_format, extra),
        _license(settings.dataset_license, records),
    ]
    return "\n".join(p.rstrip() + "\n" for p in parts if p)


# --- pieces -------------------------------------------------------------------------------------

def size_category(n: int) -> str:
    for bound, label in _SIZES:
        if n < bound:
            return label
    return "n>10M"


def _front_matter(n: int, license_id: str) -> str:
    lines = ["---", f"license: {_yaml_scalar(license_id)}", "language:", "- en", "task_categories:",
             "- text-generation", "- question-answering", "size_categories:", f"- {size_category(n)}", "tags:",
             "- science", "- reasoning", "- synthetic", "- scireflect",
             "pretty_name: scireflect verified reasoning traces", "---"]
    return "\n".join(lines) + "\n"


def _summary(records: Sequence[Record], export_format: str | None) -> str:
    n = len(records)
    shown = sum(r.answer_shown for r in records)
    pseudo = sum(bool(r.provenance.get("pseudo_label")) for r in records)
    fmt = f" in the `{export_format}` format" if export_format else ""
    row = FORMATS.get(export_format or "")
    lines = [f"{n} training records{fmt}, one per accepted trace of the scireflect pipeline: a science or "
             "mathematics question, and a step-by-step solution whose final answer an automatic verifier checked "
             "against the question's reference answer.", ""]
    if row:
        lines += [f"Each row: {row}.", ""]
    lines += [f"- Answer shown: {_share(shown, n)} of the records come from a revision that was shown the "
              "reference answer (stage `with_answer`); `store export --exclude-answer-shown` leaves them out.",
              f"- Pseudo-labelled: {_share(pseudo, n)} of the records have a reference answer that is a pseudo-label "
              "(`provenance.pseudo_label`), not a human-written answer.",
              "- The prompts ask for a last line `The answer is \\boxed{...}` with the final result and its unit "
              "inside the box (the letter for multiple choice).",
              ""]
    return "\n".join(lines)


def _composition(records: Sequence[Record]) -> str:
    n = len(records)
    stage = Counter(r.stage for r in records)
    out = ["## Composition", "", "### By stage", "",
           _table(["stage", "how the completion was obtained", "records", "share"],
                  [[s, STAGES.get(s, ""), c, _share(c, n)] for s, c in _ordered(stage, list(STAGES))]), ""]
    out += ["### By subject", "", _counts_table("subject", Counter(r.subject or "general" for r in records), n), ""]
    sources = Counter(str(r.provenance.get("question_source") or "unknown") for r in records)
    out += ["### By question source", "", _counts_table("source", sources, n), ""]
    out += ["### By difficulty", "", _difficulty(records), ""]
    return "\n".join(out)


def _difficulty(records: Sequence[Record]) -> str:
    rates = [float(r.provenance["pass_rate"]) for r in records if _is_rate(r.provenance.get("pass_rate"))]
    if not rates:
        return ("Not measured: no record carries a pass rate (`provenance.pass_rate`, the share of a question's "
                "attempts that passed). The stage table above is the only difficulty signal.")
    bins = Counter("hard (pass rate < 1/3)" if p < 1 / 3 else "medium (1/3 to 2/3)" if p < 2 / 3
                   else "easy (pass rate >= 2/3)" for p in rates)
    bins["not measured"] = len(records) - len(rates)
    order = ["hard (pass rate < 1/3)", "medium (1/3 to 2/3)", "easy (pass rate >= 2/3)", "not measured"]
    mean = sum(rates) / len(rates)
    return (f"Pass rate measured for {len(rates)} of {len(records)} records (mean {mean:.2f}).\n\n"
            + _table(["difficulty", "records", "share"],
                     [[k, c, _share(c, len(records))] for k, c in _ordered(bins, order) if c]))


def _versions(records: Sequence[Record], settings: Settings) -> str:
    def count(key: str) -> Counter:
        return Counter(str(r.provenance.get(key) or "unknown") for r in records)

    student, agent_prompts = _prompt_versions(settings)
    verdicts: Counter = Counter()
    for r in records:
        for v in r.provenance.get("verdicts") or []:
            verdicts[(str(v.get("verifier")), bool(v.get("ok")), bool(v.get("required")))] += 1
    rows = [["pipeline (from the records)", _listing(count("pipeline_version"))],
            ["scireflect (from the records)", _listing(count("scireflect_version"))],
            ["quality classifier (from the records)", _listing(count("classifier_version"))],
            ["model (from the records)", _listing(Counter(f"{r.provenance.get('model') or 'unknown'} "
                                                          f"({r.provenance.get('provider') or '?'})"
                                                          for r in records))],
            ["agent prompt files (this installation)", f"`{agent_prompts}`"],
            ["student prompt (this installation)", f"`{student}`"],
            ["verifiers (this installation)", f"`{verifier_version(settings)}`"]]
    out = ["## Versions", "",
           "The pipeline version is a hash of the agent prompts, the graph and the settings that change outputs, "
           "recorded with every trace; the rows marked *this installation* describe the code that wrote this card.",
           "", _table(["what", "version"], rows), ""]
    if verdicts:
        vrows = [[name, "yes" if req else "no", ok_n, fail_n] for name, req, ok_n, fail_n in _verdict_rows(verdicts)]
        out += ["Verdicts on the accepted solutions:", "",
                _table(["verifier", "required", "passed", "not passed"], vrows), ""]
    return "\n".join(out)


def _verdict_rows(verdicts: Counter) -> list[tuple[str, bool, int, int]]:
    names = sorted({(name, req) for name, _, req in verdicts})
    return [(name, req, verdicts[(name, True, req)], verdicts[(name, False, req)]) for name, req in names]


def _decontamination(report: Any | None, records: Sequence[Record]) -> str:
    out = ["## Decontamination", ""]
    if report is None:
        return "\n".join(out + ["Not run: these records were not checked against evaluation sets.", ""])
    flags = list(_get(report, "flags", []) or [])
    benchmarks = dict(_get(report, "benchmarks", {}) or {})
    checked = _get(report, "checked", len(records))
    out += [f"{checked} records were checked against {len(benchmarks)} evaluation set(s) "
            f"({sum(int(v) for v in benchmarks.values())} items).", ""]
    if benchmarks:
        flagged_by = Counter(str(_get(f, "benchmark", "")) for f in flags)
        out += [_table(["benchmark", "items", "records flagged"],
                       [[name, items, flagged_by.get(name, 0)] for name, items in sorted(benchmarks.items())]), ""]
    conf = _get(report, "settings", None)
    if conf:
        out += [f"Settings: `{json.dumps(conf, sort_keys=True, default=str)}`", ""]
    if not flags:
        return "\n".join(out + ["No record was flagged.", ""])
    methods = Counter(str(_get(f, "method", "")) for f in flags)
    trace_ids = {r.trace_id for r in records}
    question_ids = {r.question_id for r in records}
    present = sum(str(_get(f, "record_id", "")) in trace_ids or str(_get(f, "question_id", "")) in question_ids
                  for f in flags)
    out += [f"{len(flags)} flag(s) ({_listing(methods)}). "
            + ("None of the flagged records or their questions is in this dataset."
               if not present else f"**{present} flagged record(s) or their questions are in this dataset.**"), ""]
    rows = [[_get(f, "record_id", ""), _get(f, "question_id", ""), _get(f, "benchmark", ""), _get(f, "item_id", ""),
             _get(f, "method", ""), _fmt_score(_get(f, "score", None)), _clip(str(_get(f, "evidence", "") or ""), 80)]
            for f in flags[:MAX_FLAGS_LISTED]]
    out += [_table(["record", "question", "benchmark", "item", "method", "score", "evidence"], rows), ""]
    if len(flags) > MAX_FLAGS_LISTED:
        out += [f"({len(flags) - MAX_FLAGS_LISTED} more flags not listed; `scireflect decontaminate --json` lists "
                "them all.)", ""]
    return "\n".join(out)


def _made_by(command: str, export_format: str | None, extra: Mapping[str, Any] | None) -> str:
    out = ["## How this dataset was made", "", "Command:", "", "```bash", command.strip(), "```", ""]
    details = dict(extra or {})
    if export_format:
        details = {"format": export_format, **details}
    if details:
        out += [_table(["option", "value"], [[k, _value(v)] for k, v in details.items()]), ""]
    out += ["Records come from traces the pipeline accepted (solve, verify, critique, revise; see the scireflect "
            "README); the full trace of each record is named by `provenance.trace_id`.", ""]
    return "\n".join(out)


def _license(license_id: str, records: Sequence[Record]) -> str:
    sources = sorted({str(r.provenance.get("question_source")) for r in records if r.provenance.get("question_source")})
    text = ["## License", "", f"`{license_id}` (the `dataset_license` setting). The questions keep the terms of their "
            "sources" + (f" ({', '.join(sources)})" if sources else "") + ", and the solutions the terms of the "
            "model that wrote them; check both before publishing.", ""]
    return "\n".join(text)


# --- versions -----------------------------------------------------------------------------------

def _prompt_versions(settings: Settings) -> tuple[str, str]:
    # The card describes the whole pipeline, so it names the prompts of the layers above the store (read lazily).
    from scireflect.agents.prompts import prompt_files_digest
    from scireflect.training.student import load_templates

    student = load_templates(settings)
    return f"{student.digest} ({', '.join(student.origins)})", prompt_files_digest()[:12]


def verifier_version(settings: Settings) -> str:
    """``scireflect VERSION+DIGEST``: the package version and a hash of the verifier code (the verifiers, the
    extraction and reasoning split they read through) and the settings that change verdicts."""
    from scireflect import __version__

    h = hashlib.sha256()
    for package, name in VERIFIER_SOURCES:
        folder = resources.files(package)
        files = [folder.joinpath(name)] if name else sorted(
            (f for f in folder.iterdir() if f.name.endswith(".py")), key=lambda f: f.name)
        for f in files:
            h.update(f"{package}/{f.name}".encode() + b"\0" + f.read_bytes() + b"\0")
    opts = {k: getattr(settings, k) for k in VERIFIER_SETTINGS}
    h.update(json.dumps(opts, sort_keys=True, default=str).encode())
    return f"scireflect {__version__}+{h.hexdigest()[:12]}"


# --- formatting ---------------------------------------------------------------------------------

def _get(obj: Any, name: str, default: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _is_rate(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= float(v) <= 1.0


def _share(k: int, n: int) -> str:
    return f"{k / n:.1%}" if n else "0%"


def _ordered(counts: Counter, order: Iterable[str]) -> list[tuple[str, int]]:
    """The keys named in ``order`` first, in that order; then the rest, most frequent first."""
    first = [k for k in order if k in counts]
    rest = sorted((k for k in counts if k not in first), key=lambda k: (-counts[k], k))
    return [(k, counts[k]) for k in first + rest]


def _counts_table(label: str, counts: Counter, n: int) -> str:
    if not counts:
        return "(no records)"
    return _table([label, "records", "share"], [[k, c, _share(c, n)] for k, c in _ordered(counts, [])])


def _listing(counts: Counter) -> str:
    return ", ".join(f"{k} ({c})" for k, c in sorted(counts.items(), key=lambda kc: (-kc[1], kc[0]))) or "none"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    return re.sub(r"\s+", " ", str(v)).replace("|", "\\|").strip()


def _clip(s: str, n: int) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    return s if len(s) <= n else s[: n - 1] + "…"


def _fmt_score(v: Any) -> str:
    return f"{float(v):.3f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else ""


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)


def _yaml_scalar(s: str) -> str:
    # A JSON string is a valid YAML scalar; plain ids such as cc-by-4.0 stay unquoted as HF writes them.
    return s if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+_-]*", s) else json.dumps(s)
