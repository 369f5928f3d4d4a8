"""Build examples/quality_labels.jsonl: labeled good and bad solutions for the quality classifier.

    .venv/bin/python examples/build_quality_labels.py            # rewrites examples/quality_labels.jsonl
    .venv/bin/python examples/build_quality_labels.py --scibench ../shared/scibench --out dev.jsonl

Every problem of quality_label_families.py yields one good solution and two bad ones of the kinds
real models produce (wrong answer, truncated, answer only, unjustified leap, copied reference
answer, circular reasoning, unit error): about one good to two bad. Verdicts are computed with
scireflect's own verifiers, as the pipeline would. ``--scibench DIR`` instead builds a development
set from SciBench's worked solutions (MIT licence; not shipped): their solutions as the good ones.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_label_families import FAMILIES, g  # noqa: E402

from scireflect.schema import Attempt, Question  # noqa: E402

BAD_KINDS = ("wrong_answer", "truncated", "answer_only", "unjustified_leap", "copied_reference", "circular",
             "unit_error")
CONCLUDE = ["The answer is \\boxed{{{a}}}.", "Therefore, the answer is \\boxed{{{a}}}.", "Final answer: \\boxed{{{a}}}",
            "So {qty} = {a}, and the answer is \\boxed{{{a}}}."]
INTRO = ["", "{principle}", "We need {qty}. {principle}", "Let's work step by step. {principle}"]
ANSWER_ONLY = ["\\boxed{{{a}}}", "The answer is {a}.", "{a}", "{Qty} = {a}.\nThe answer is \\boxed{{{a}}}."]
LEAP = ["{principle}\nThe answer is \\boxed{{{a}}}.",
        "From the given values, {qty} is clearly {a}.\nThe answer is \\boxed{{{a}}}.",
        "{first}\nHence {qty} = {a}.\nTherefore, the answer is \\boxed{{{a}}}.",
        "Using standard results, it can be shown that {qty} = {a}.\nFinal answer: \\boxed{{{a}}}"]
COPIED = ["The reference answer is {a}, so {qty} = {a}.\nThe answer is \\boxed{{{a}}}.",
          "We are told the correct answer is {a}. {principle} Working backwards from {a}, the values are "
          "consistent.\nThe answer is \\boxed{{{a}}}.",
          "Based on the given answer, {qty} must be {a}.\nFinal answer: \\boxed{{{a}}}",
          "The expected answer is {a}; my previous calculation was wrong, so I adopt {a}.\nThe answer is \\boxed{{{a}}}."]
CIRCULAR = ["Assume {qty} = {a}. Substituting this back, {qty} = {a}, which is consistent. Therefore {qty} = {a}.\n"
            "The answer is \\boxed{{{a}}}.",
            "{principle}\nSince the result must satisfy the problem, {qty} = {a}; checking, {a} = {a}. Thus the answer "
            "is \\boxed{{{a}}}.",
            "Let {qty} be {a}. Then the conditions of the problem hold because {qty} = {a}. Hence the answer is "
            "\\boxed{{{a}}}."]
CRITIQUE = "The previous solution used the wrong relation; re-derive {qty} from {principle_lc}"


def _fmt(template: str, **kw: Any) -> str:
    return template.format(**kw).strip()


def _answer(value: float, unit: str | None) -> str:
    return f"{g(value)} {unit}" if unit else g(value)


def _good_text(p: dict[str, Any], r: random.Random, concise: bool) -> str:
    kw = dict(qty=p["quantity"], principle=p["principle"], a=_answer(p["ans"], p["unit"]))
    body = [p["principle"], p["steps"][-1]] if concise else [_fmt(r.choice(INTRO), **kw), *p["steps"]]
    return "\n".join(x for x in body if x) + "\n" + _fmt(r.choice(CONCLUDE), **kw)


def bad_text(kind: str, p: dict[str, Any], r: random.Random) -> str:
    """One bad solution of ``kind`` for problem ``p`` (a family's dict, or a SciBench-derived one)."""
    a = _answer(p["ans"], p["unit"]) if not isinstance(p["ans"], str) else p["ans"]
    qty = p["quantity"]
    kw = dict(qty=qty, Qty=qty[:1].upper() + qty[1:], principle=p["principle"], a=a, first=p["steps"][0])
    if kind == "wrong_answer":
        wa = _answer(p["wrong"], p["unit"]) if not isinstance(p["wrong"], str) else p["wrong"]
        # Half the time the slip comes at the end of an otherwise full derivation, as it often does.
        lead = p["steps"][:-1] if r.random() < 0.5 and len(p["steps"]) > 1 else []
        slip = p["wrong_steps"][-1:] if lead else p["wrong_steps"]
        body = [_fmt(r.choice(INTRO), **kw), *lead, *slip, _fmt(r.choice(CONCLUDE), **(kw | {"a": wa}))]
        return "\n".join(x for x in body if x)
    if kind == "truncated":
        full = "\n".join(p["steps"])
        cut = int(len(full) * r.uniform(0.3, 0.8))
        return full[:cut].rstrip()
    if kind == "answer_only":
        return _fmt(r.choice(ANSWER_ONLY), **kw)
    if kind == "unjustified_leap":
        return _fmt(r.choice(LEAP), **kw)
    if kind == "copied_reference":
        return _fmt(r.choice(COPIED), **kw)
    if kind == "circular":
        return _fmt(r.choice(CIRCULAR), **kw)
    if kind == "unit_error":
        good = _answer(p["ans"], p["unit"])
        steps = [s.replace(good, p["unit_err"]) for s in p["steps"]]
        return "\n".join([*steps, _fmt(r.choice(CONCLUDE), **(kw | {"a": p["unit_err"]}))])
    raise ValueError(kind)


def _verify(q: Question, attempt: Attempt) -> Attempt:
    """Fill the attempt's verdicts with the verifiers that apply, as the pipeline's verify node does."""
    from scireflect.tools.extract import extract_answer
    from scireflect.tools.verifiers import default_registry

    attempt.extracted_answer = extract_answer(attempt.solution)
    attempt.verdicts = [v.verify(q, attempt) for v in default_registry(plugins=False).for_question(q)]
    return attempt


def _row(idx: int, q: Question, label: int, kind: str, group: str, solution: str, stage: str, r: random.Random,
         p: dict[str, Any], source: str) -> dict[str, Any]:
    attempts = []
    if stage in ("reflection", "with_answer") and p.get("wrong_steps"):
        first = Attempt(stage="cot", round=0, solution="\n".join(p["wrong_steps"]))
        attempts.append(_verify(q, first))
    crit = CRITIQUE.format(qty=p["quantity"], principle_lc=p["principle"][:1].lower() + p["principle"][1:])
    last = Attempt(stage=stage, round=len(attempts), solution=solution, critique=crit if attempts else None,
                   retrieved=[f"ch-{group}-{r.randint(1, 3)}"] if r.random() < 0.3 else [])
    attempts.append(_verify(q, last))
    return {"id": f"ql-{idx:04d}", "label": label, "kind": kind, "group": group, "subject": q.subject,
            "source": source, "question": q.model_dump(mode="json", exclude_none=True, exclude={"metadata"}),
            "attempts": [a.model_dump(mode="json", exclude_none=True) for a in attempts],
            "answer_shown": stage == "with_answer"}


def _stage(r: random.Random, kind: str) -> str:
    if kind == "copied_reference":
        return "with_answer"
    x = r.random()
    if kind == "good":
        return "cot" if x < 0.65 else "reflection" if x < 0.9 else "with_answer"
    return "cot" if x < 0.7 else "reflection"


def build_written(per_family: int, seed: int) -> list[dict[str, Any]]:
    r = random.Random(seed)
    rows: list[dict[str, Any]] = []
    kinds = list(BAD_KINDS)
    r.shuffle(kinds)
    cursor = 0
    for name, fam in FAMILIES.items():
        seen: set[str] = set()
        for i in range(per_family):
            for _ in range(50):  # distinct questions whose classic mistake changes the answer
                p = fam(r)
                if p["q"] not in seen and abs(p["ans"] - p["wrong"]) > 1e-6 * max(1.0, abs(p["ans"])):
                    break
            seen.add(p["q"])
            q = Question(id=f"{name}-{i + 1}", question=p["q"], answer=g(p["ans"]), unit=p["unit"],
                         subject=p["subject"], type="numeric", source="scireflect-written")
            rows.append(_row(len(rows) + 1, q, 1, "good", name, _good_text(p, r, concise=r.random() < 0.25),
                             _stage(r, "good"), r, p, "scireflect-written"))
            chosen: list[str] = []
            while len(chosen) < 2:
                k = kinds[cursor % len(kinds)]
                cursor += 1
                if k not in chosen and (k != "unit_error" or p["unit_err"]):
                    chosen.append(k)
            for k in chosen:
                rows.append(_row(len(rows) + 1, q, 0, k, name, bad_text(k, p, r), _stage(r, k), r, p,
                                 "scireflect-written"))
    return rows


def _scibench_problem(item: dict[str, Any]) -> dict[str, Any] | None:
    """A family-like dict from one SciBench worked solution (None when its answer is not a plain number)."""
    try:
        value = float(str(item["answer_number"]).strip())
    except ValueError:
        return None
    sol = str(item.get("solution") or "").replace("\r\n", "\n").strip()
    if len(sol) < 80:
        return None
    unit = re.sub(r"\\mathrm\{~?([^}]*)\}|\$|~", lambda m: m.group(1) or "", str(item.get("unit") or "")).strip()
    steps = [s for s in sol.split("\n") if s.strip()]
    ans = f"{value:g} {unit}".strip()
    wrong = f"{value * 1.5:g} {unit}".strip()
    return dict(subject=str(item.get("source", "scibench")).strip(), unit=unit or None, quantity="the result",
                q=str(item["problem_text"]).strip(), principle=steps[0][:300], steps=steps,
                wrong_steps=steps[:-1] + [steps[-1].replace(f"{value:g}", f"{value * 1.5:g}")],
                ans=ans, wrong=wrong, unit_err=None, id=f"{item.get('source', '').strip()}-"
                                                     f"{str(item.get('problemid', '')).strip()}")


def build_scibench(directory: Path, seed: int) -> list[dict[str, Any]]:
    r = random.Random(seed)
    rows: list[dict[str, Any]] = []
    kinds = [k for k in BAD_KINDS if k != "unit_error"]
    for path in sorted(directory.glob("*_sol.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            p = _scibench_problem(item)
            if p is None:
                continue
            q = Question(id=p["id"], question=p["q"], answer=p["ans"], subject=p["subject"], type="numeric",
                         source="scibench")
            good = "\n".join(p["steps"]) + "\n" + _fmt(r.choice(CONCLUDE), qty="the result", a=p["ans"])
            rows.append(_row(len(rows) + 1, q, 1, "good", p["id"], good, "cot", r, p, "scibench (MIT)"))
            for k in r.sample(kinds, 2):
                rows.append(_row(len(rows) + 1, q, 0, k, p["id"], bad_text(k, p, r), _stage(r, k), r, p,
                                 "scibench (MIT)"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("quality_labels.jsonl"))
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scibench", type=Path, help="build the SciBench development set from this folder instead")
    args = ap.parse_args()
    rows = build_scibench(args.scibench, args.seed) if args.scibench else build_written(args.per_family, args.seed)
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    good = sum(r["label"] for r in rows)
    print(f"wrote {len(rows)} labeled solutions ({good} good, {len(rows) - good} bad) to {args.out}")


if __name__ == "__main__":
    main()
