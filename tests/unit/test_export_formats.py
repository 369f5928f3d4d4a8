"""Exports from whole traces: dpo pairs, reflection conversations, prm step labels, the student prompt,
dedup, decontamination by default, the dataset card, and the CLI (fakes for the decontam and card modules)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.errors import ConfigError
from scireflect.schema import Attempt, Event, Gate, Question, Trace, Verdict
from scireflect.store.export import FORMATS, ExportOptions, collect_rows, export, step_labels

PASSAGE = {"id": "c1", "text": "Newton's second law: F = m a.", "source": "physics.md", "page": 3, "section": None,
           "score": 0.9}


def steps(*claims: tuple[int, str, str]) -> Verdict:
    wrong = any(s == "wrong" for _, _, s in claims)
    return Verdict(verifier="steps", ok=not wrong, reason="unequal" if wrong else "equal", required=False,
                   details={"steps": [{"line": n, "text": t, "status": s} for n, t, s in claims]})


def answer(ok: bool) -> Verdict:
    return Verdict(verifier="answer", ok=ok, score=float(ok), reason="equal" if ok else "unequal")


COT_WRONG = Attempt(stage="cot", round=0, solution="We use F = m a [c1].\nF = 2 * 3 = 5 N\nThe answer is "
                    "\\boxed{5 N}.", retrieved=["c1"],
                    verdicts=[answer(False), steps((2, "F = 2 * 3", "unchecked"), (2, "2 * 3 = 5 N", "wrong"))])
FIX = Attempt(stage="reflection", round=1, critique="Check the product 2 * 3.", retrieved=["c1"],
              solution="By Newton's law [c1], F = m a.\nF = 2 * 3 = 6 N\nThe answer is \\boxed{6 N}.",
              verdicts=[answer(True), steps((2, "F = 2 * 3", "unchecked"), (2, "2 * 3 = 6 N", "ok"))])


def trace(i: int, kind: str = "reflection", *, question: str | None = None, pv: str = "pv-1") -> Trace:
    """kind: cot (accepted at once), reflection (one fix), two_rounds, with_answer (stage 3)."""
    q = Question(id=f"q{i}", question=question or f"A {i} kg mass accelerates at 3 m/s^2. What force acts on it?",
                 answer="6", unit="N", subject="physics", type="numeric")
    wrong2 = FIX.model_copy(update={"solution": "F = 2 + 3 = 5 N\nThe answer is \\boxed{5 N}.",
                                    "verdicts": [answer(False), steps((1, "2 + 3 = 5 N", "ok"))]})
    ok_cot = COT_WRONG.model_copy(update={"solution": FIX.solution, "verdicts": FIX.verdicts})
    attempts = {"cot": [ok_cot], "reflection": [COT_WRONG, FIX],
                "two_rounds": [COT_WRONG, wrong2, FIX.model_copy(update={"round": 2, "critique": "Multiply."})],
                "with_answer": [COT_WRONG, wrong2, FIX.model_copy(update={"stage": "with_answer", "round": 2,
                                                                          "critique": "Still wrong."})]}[kind]
    status = {"cot": "accepted_cot", "with_answer": "accepted_with_answer"}.get(kind, "accepted_reflection")
    return Trace(id=f"t_{i}_{kind}", question_id=q.id, question=q, status=status, attempts=attempts,
                 run_id="r_1", pipeline_version=pv, answer_shown=kind == "with_answer",
                 gate=Gate(score=0.9, decision="pass", classifier_version="v1"))


def store_trace(stores: Any, t: Trace, passages: bool = True) -> Trace:
    stores.traces.start(t)
    if passages:
        stores.traces.add_event(Event(trace_id=t.id, seq=0, node="retrieve", output={"chunks": [PASSAGE]}))
    stores.traces.finish(t)
    stores.records.add_from_trace(t)
    return t


@pytest.fixture
def traces(stores: Any) -> Any:
    for i, kind in enumerate(("cot", "reflection", "two_rounds", "with_answer")):
        store_trace(stores, trace(i, kind))
    return stores


def fake_decontam(monkeypatch: pytest.MonkeyPatch, flag: Callable[[Any], bool] = lambda rec: False) -> list[Any]:
    """Install a ``scireflect.training.decontam`` that flags the records ``flag`` picks; returns its calls.
    Its flags and reports are the real module's types."""
    from scireflect.training.decontam import DecontamReport, Flag

    calls: list[Any] = []

    def decontaminate(records: Any, against: Any, settings: Any, *, methods: Any = ("ngram",), **kw: Any) -> Any:
        calls.append({"records": len(records), "against": list(against), "methods": tuple(methods)})
        flags = [Flag(r.trace_id, r.question_id, "scibench-mini", "item-7", "ngram", 1.0, r.prompt[:40])
                 for r in records if flag(r)]
        return DecontamReport(flags, len(records), {b: 10 for b in against}, {"methods": ["ngram"]})

    mod = types.ModuleType("scireflect.training.decontam")
    mod.decontaminate = decontaminate  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scireflect.training.decontam", mod)
    return calls


def fake_card(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def dataset_card(records: Any, *, settings: Any, command: str, decontam: Any = None, export_format: Any = None,
                     extra: Any = None) -> str:
        calls.append({"records": len(records), "command": command, "decontam": decontam, "format": export_format,
                      "extra": extra})
        return f"# card\n\n{len(records)} records, format {export_format}\n"

    mod = types.ModuleType("scireflect.store.card")
    mod.dataset_card = dataset_card  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scireflect.store.card", mod)
    return calls


def rows(settings: Any, stores: Any, fmt: str, **opts: Any) -> Any:
    return collect_rows(settings, fmt, options=ExportOptions(decontaminate=False, **opts), stores=stores)


# --- formats -------------------------------------------------------------------------------------

def test_dpo_pairs_the_fix_with_the_stage1_failure(settings: Any, traces: Any) -> None:
    got = rows(settings, traces, "dpo")
    assert len(got.rows) == 3 and got.skipped == {"accepted_at_stage_1": 1}
    row = dict(got.rows)["q1"]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"] and "What force" in row["prompt"][1]["content"]
    assert row["chosen"] == [{"role": "assistant", "content": "By Newton's law, F = m a.\nF = 2 * 3 = 6 N\n"
                                                               "The answer is \\boxed{6 N}."}]
    assert "5 N" in row["rejected"][0]["content"] and "[c1]" not in row["rejected"][0]["content"]
    assert len(rows(settings, traces, "dpo", dpo_pairs="all").rows) == 5  # two failures each in two traces


def test_reflection_turns_and_the_answer_shown_policy(settings: Any, traces: Any) -> None:
    got = rows(settings, traces, "reflection")
    assert got.skipped == {"accepted_at_stage_1": 1, "answer_shown": 1} and len(got.rows) == 2
    msgs = dict(got.rows)["q2"]["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert msgs[3]["content"] == "Check the product 2 * 3." and msgs[-1]["content"].endswith("\\boxed{6 N}.")
    marked = dict(rows(settings, traces, "reflection", reflection_answer_shown="mark").rows)["q3"]["messages"]
    assert marked[-2]["content"] == "Still wrong.\n\n[reference answer shown to the reviser: 6 N]"
    assert not any("reference answer" in m["content"] for m in marked[:-2])


def test_prm_labels_lines_by_their_claims(settings: Any, traces: Any) -> None:
    got = rows(settings, traces, "prm")
    by_q = [r for q, r in got.rows if q == "q1"]
    assert [(r["completions"], r["labels"]) for r in by_q] == [(["F = 2 * 3 = 5 N"], [False]),
                                                                (["F = 2 * 3 = 6 N"], [True])]
    assert isinstance(by_q[0]["prompt"], str) and "What force" in by_q[0]["prompt"]
    labelled = step_labels(COT_WRONG, "true")
    assert labelled == [("We use F = m a [c1].", True), ("F = 2 * 3 = 5 N", False),
                        ("The answer is \\boxed{5 N}.", True)]
    assert [ok for _, ok in step_labels(COT_WRONG, "false")] == [False, False, False]
    assert step_labels(COT_WRONG.model_copy(update={"verdicts": [answer(False)]})) == []
    with pytest.raises(ConfigError, match="--prm-unchecked"):
        rows(settings, traces, "prm", prm_unchecked="maybe")


def test_sft_formats_use_the_student_prompt(settings: Any, traces: Any) -> None:
    from scireflect.training.data import detect_format, to_messages

    chat = dict(rows(settings, traces, "chatml").rows)["q1"]["messages"]
    assert [m["role"] for m in chat] == ["system", "user", "assistant"] and "[c1]" not in chat[2]["content"]
    alpaca = dict(rows(settings, traces, "alpaca").rows)["q1"]
    assert alpaca["instruction"] == chat[1]["content"] and alpaca["system"] == chat[0]["content"]
    assert alpaca["prompt"] == chat[:2] and alpaca["completion"] == chat[2:] and alpaca["output"] == chat[2]["content"]
    assert to_messages(alpaca, detect_format(alpaca)) == chat
    share = dict(rows(settings, traces, "sharegpt").rows)["q1"]["conversations"]
    assert [c["from"] for c in share] == ["system", "human", "gpt"]
    pc = dict(rows(settings, traces, "prompt-completion").rows)["q1"]
    assert pc == {"prompt": chat[:2], "completion": chat[2:]}


def test_with_passages_puts_them_in_the_prompt_and_keeps_citations(settings: Any, stores: Any) -> None:
    store_trace(stores, trace(1))
    store_trace(stores, trace(2), passages=False)  # retrieved c1, but its text is not stored
    got = rows(settings, stores, "chatml", with_passages=True)
    assert got.skipped == {"passages_not_stored": 1} and len(got.rows) == 1
    msgs = got.rows[0][1]["messages"]
    assert PASSAGE["text"] in msgs[1]["content"] and "[c1]" in msgs[2]["content"]
    assert PASSAGE["text"] not in rows(settings, stores, "chatml").rows[0][1]["messages"][1]["content"]


def test_duplicates_are_dropped_and_counted(settings: Any, stores: Any) -> None:
    store_trace(stores, trace(1))
    dup = trace(1)
    dup.id = "t_again"  # the same question and solution under the same pipeline version
    store_trace(stores, dup)
    other_pv = trace(1, pv="pv-2")
    other_pv.id = "t_pv2"  # a new pipeline version is another record, but its row is the same
    store_trace(stores, other_pv)
    got = rows(settings, stores, "chatml")
    assert got.considered == 3 and got.duplicates == {"records": 1, "rows": 1} and len(got.rows) == 1
    assert len({json.dumps(r) for _, r in got.rows}) == len(got.rows)


# --- decontamination, files, card ---------------------------------------------------------------

def test_export_decontaminates_by_default_and_lists_the_flags(settings: Any, traces: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_decontam(monkeypatch, flag=lambda rec: rec.question_id == "q2")
    out = tmp_path / "pairs.jsonl"
    res = export(settings, out, "dpo", stores=traces)
    assert calls[0]["records"] == 4 and "scibench-mini" in calls[0]["against"]  # every named benchmark
    assert calls[0]["methods"] == ("ngram", "minhash")
    assert res.total == 2 and res.collected.decontam_excluded == 1
    listed = json.loads((tmp_path / "pairs.decontam.json").read_text())
    assert [f["record_id"] for f in listed["flags"]] == ["t_2_two_rounds"] and listed["checked"] == 4
    s = res.summary()
    assert s["decontamination"]["excluded"] == 1 and s["skipped"] == {"accepted_at_stage_1": 1}
    opts = ExportOptions(against=("sciref-mini",), decontam_methods=("embedding",))
    export(settings, out, "dpo", stores=traces, options=opts)
    assert calls[-1]["against"] == ["sciref-mini"] and calls[-1]["methods"] == ("embedding",)
    assert export(settings, out, "dpo", stores=traces, options=ExportOptions(decontaminate=False)).total == 3


def test_hf_dataset_gets_its_card(settings: Any, traces: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("datasets")
    fake_decontam(monkeypatch)
    cards = fake_card(monkeypatch)
    res = export(settings, None, "reflection", hf_dataset=tmp_path / "ds", stores=traces, command="scireflect x")
    assert (tmp_path / "ds" / "README.md").read_text().startswith("# card")
    assert (tmp_path / "ds" / "decontam.json").is_file() and res.card == tmp_path / "ds" / "README.md"
    c = cards[0]
    assert c["records"] == 2 and c["command"] == "scireflect x" and c["format"] == "reflection"
    assert c["decontam"] is not None and c["extra"]["reflection_answer_shown"] == "exclude"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_with_datasets(fmt: str, settings: Any, traces: Any, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    from datasets import load_dataset

    out = tmp_path / f"{fmt}.jsonl"
    res = export(settings, out, fmt, stores=traces, with_meta=True, options=ExportOptions(decontaminate=False))
    ds = load_dataset("json", data_files=str(out), split="train")
    assert ds.num_rows == res.total > 0 and "meta" in ds.column_names


def test_cli_export_dpo_and_card(traces: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_decontam(monkeypatch, flag=lambda rec: rec.question_id == "q1")
    cards = fake_card(monkeypatch)
    out = tmp_path / "dpo.jsonl"
    r = CliRunner().invoke(app, ["store", "export", "--format", "dpo", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["counts"] == {"train": 2} and s["decontamination"]["excluded"] == 1 and s["format"] == "dpo"
    assert s["skipped"] == {"accepted_at_stage_1": 1} and s["decontamination"]["list"].endswith("dpo.decontam.json")
    assert all(set(json.loads(x)) == {"prompt", "chosen", "rejected"} for x in out.read_text().splitlines())

    r = CliRunner().invoke(app, ["store", "export", "--format", "prm", "--out", str(out), "--no-decontaminate",
                                 "--prm-unchecked", "false"])
    assert r.exit_code == 0 and "exported" in r.output, r.output
    r = CliRunner().invoke(app, ["store", "export", "--format", "reflection", "--out", str(out)])
    assert r.exit_code == 0 and "decontamination: 1 record(s) excluded" in r.output and "flagged" in r.output
    r = CliRunner().invoke(app, ["store", "export", "--format", "dpo", "--out", str(out), "--dpo-pairs", "some"])
    assert r.exit_code == 2 and "--dpo-pairs" in r.output

    r = CliRunner().invoke(app, ["store", "card", "--subject", "physics"])
    assert r.exit_code == 0 and r.stdout.startswith("# card") and cards[-1]["records"] == 3
    r = CliRunner().invoke(app, ["store", "card", "--out", str(tmp_path / "CARD.md"), "--format", "dpo"])
    assert r.exit_code == 0 and (tmp_path / "CARD.md").is_file() and cards[-1]["format"] == "dpo"


# --- train --from-store ---------------------------------------------------------------------------

def test_train_from_store_is_decontaminated_and_deduplicated(settings: Any, traces: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from scireflect.training.data import load_store

    calls = fake_decontam(monkeypatch, flag=lambda rec: rec.question_id == "q1")
    dup = trace(0, "cot")
    dup.id = "t_dup"
    store_trace(traces, dup)
    loaded = load_store(settings, {"subject": "physics"})
    assert len(loaded.train) == 3 and loaded.excluded["decontaminated"] == 1 and loaded.excluded["duplicates"] == 1
    assert loaded.excluded["flags"][0]["record_id"] == "t_1_reflection"
    assert [m["role"] for m in loaded.train[0].messages] == ["system", "user", "assistant"]
    loaded = load_store(settings, {"decontaminate": False, "against": ["math-mini"]}, val_split=0.5)
    assert len(loaded.train) + len(loaded.validation or []) == 4 and len(calls) == 1
    load_store(settings, {"against": ["math-mini"], "decontam_method": ["embedding"]})
    assert calls[-1]["against"] == ["math-mini"] and calls[-1]["methods"] == ("embedding",)


def test_train_cli_passes_the_decontamination_flags(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scireflect.training.sft as sft

    seen: dict[str, Any] = {}

    def fake_train(opts: Any, settings: Any, progress: bool = True) -> Any:
        seen.update(opts.store_filters)
        return types.SimpleNamespace(run_dir=home / "train" / "x", metrics={"mode": "lora"})

    monkeypatch.setattr(sft, "train", fake_train)
    r = CliRunner().invoke(app, ["train", "--from-store", "--against", "math-mini", "--decontam-method", "ngram",
                                 "--json"])
    assert r.exit_code == 0, r.output
    assert seen == {"decontaminate": True, "against": ["math-mini"], "decontam_method": ["ngram"]}
    r = CliRunner().invoke(app, ["train", "--from-store", "--no-decontaminate", "--json"])
    assert r.exit_code == 0 and seen["decontaminate"] is False
    r = CliRunner().invoke(app, ["train", "--data", "x.jsonl", "--against", "math-mini"])
    assert r.exit_code == 2 and "--from-store" in r.output


def test_real_decontam_and_card_by_default(stores: Any, home: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real modules: a record copying a bundled benchmark item is left out by default, listed, and the
    card of the HF dataset says so."""
    pytest.importorskip("datasets")
    pytest.importorskip("scireflect.training.decontam")
    pytest.importorskip("scireflect.store.card")
    store_trace(stores, trace(1, question="What is the value of $x$ if $3x - 5 = 16$?"))  # math-mini/algebra/1
    store_trace(stores, trace(2))
    args = ["store", "export", "--format", "dpo", "--hf-dataset", str(tmp_path / "my ds"), "--json"]
    monkeypatch.setattr(sys, "argv", ["/opt/venv/bin/scireflect", *args])  # what the card quotes
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["counts"] == {"train": 1} and s["decontamination"]["excluded"] == 1
    assert set(s["decontamination"]["benchmarks"]) >= {"math-mini", "scibench-mini"}
    flags = json.loads((tmp_path / "my ds" / "decontam.json").read_text())["flags"]
    assert {(f["record_id"], f["benchmark"]) for f in flags} == {("t_1_reflection", "math-mini")}
    card = (tmp_path / "my ds" / "README.md").read_text()
    assert card.startswith("---") and "Decontamination" in card
    assert f"scireflect store export --format dpo --hf-dataset '{tmp_path / 'my ds'}' --json" in card
