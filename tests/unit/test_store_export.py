"""SFT export: the four formats, filters, split by question, HF dataset, and the store CLI (records without
their traces: the stored question is the user turn of the student prompt)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.errors import ConfigError, InputError
from scireflect.store.export import export, format_row, iter_export_rows, split_paths, split_questions, split_rows

sys.path.insert(0, str(Path(__file__).parent))
from test_export_formats import fake_decontam  # noqa: E402
from test_store_records import make_trace  # noqa: E402


@pytest.fixture(autouse=True)
def no_contamination(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports decontaminate by default; these tests are about the SFT formats, so nothing is flagged."""
    fake_decontam(monkeypatch)


@pytest.fixture
def filled(stores: Any) -> Any:
    """Ten questions: physics/chemistry, one gate-rejected, one stage-3 (answer shown)."""
    for i in range(10):
        kw: dict[str, Any] = {"subject": "physics" if i % 2 == 0 else "chemistry", "score": 0.5 + i / 20}
        if i == 3:
            kw.update(decision="reject", score=0.1)
        if i == 4:
            kw.update(stage="with_answer", status="accepted_with_answer", answer_shown=True)
        stores.records.add_from_trace(make_trace(i, **kw))
    return stores


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_formats(filled: Any, settings: Any) -> None:
    rec = next(filled.records.iter())
    assert format_row(rec, "chatml") == {"messages": [{"role": "user", "content": rec.prompt},
                                                      {"role": "assistant", "content": rec.completion}]}
    # alpaca also carries TRL's conversational prompt/completion, which SFTTrainer reads without a formatting function
    assert format_row(rec, "alpaca") == {"instruction": rec.prompt, "input": "", "output": rec.completion,
                                         "prompt": [{"role": "user", "content": rec.prompt}],
                                         "completion": [{"role": "assistant", "content": rec.completion}]}
    assert format_row(rec, "sharegpt") == {"conversations": [{"from": "human", "value": rec.prompt},
                                                             {"from": "gpt", "value": rec.completion}]}
    assert format_row(rec, "prompt-completion") == {"prompt": rec.prompt, "completion": rec.completion}
    assert format_row(rec, "alpaca", with_meta=True)["meta"]["trace_id"] == rec.trace_id
    with pytest.raises(ConfigError, match="unknown export format"):
        format_row(rec, "parquet")


def test_iter_export_rows_default_filters(filled: Any, settings: Any) -> None:
    rows = list(iter_export_rows(settings, "prompt-completion", stores=filled))
    assert len(rows) == 9  # the gate-rejected record is left out, the answer-shown one kept
    assert len(list(iter_export_rows(settings, stores=filled, include_rejected=True))) == 10
    assert len(list(iter_export_rows(settings, stores=filled, include_answer_shown=False))) == 8
    assert len(list(iter_export_rows(settings, stores=filled, subject="physics"))) == 5
    assert len(list(iter_export_rows(settings, stores=filled, min_score=0.9))) == 2
    with pytest.raises(ConfigError, match="unknown export filter"):
        list(iter_export_rows(settings, stores=filled, colour="red"))
    with pytest.raises(InputError, match="min-score"):
        list(iter_export_rows(settings, stores=filled, min_score=3))


def test_iter_export_rows_opens_the_workspace_store(filled: Any, settings: Any) -> None:
    assert len(list(iter_export_rows(settings))) == 9  # no stores passed: opens settings.db_url itself


def test_split_by_question_is_seeded_and_disjoint(filled: Any, settings: Any) -> None:
    parts = split_rows(settings, "chatml", split=0.7, seed=3, stores=filled, with_meta=True)
    train_q = {r["meta"]["question_id"] for r in parts["train"]}
    val_q = {r["meta"]["question_id"] for r in parts["validation"]}
    assert train_q and val_q and not train_q & val_q
    assert len(parts["train"]) + len(parts["validation"]) == 9
    again = split_rows(settings, "chatml", split=0.7, seed=3, stores=filled, with_meta=True)
    assert again == parts
    assert split_questions(["a", "b"], 0.99, 0) != set() and len(split_questions(["a", "b"], 0.99, 0)) == 1
    with pytest.raises(InputError, match="--split"):
        split_questions(["a"], 1.5, 0)


def test_export_files_and_hf_dataset(filled: Any, settings: Any, tmp_path: Path) -> None:
    pytest.importorskip("datasets", reason="datasets is in the 'classifier' extra")
    from datasets import load_from_disk

    out = tmp_path / "sft.jsonl"
    res = export(settings, out, "alpaca", split=0.8, seed=0, hf_dataset=tmp_path / "ds", stores=filled)
    paths = split_paths(out)
    assert res.files == paths and res.warning is None
    assert len(_rows(paths["train"])) + len(_rows(paths["validation"])) == 9
    ds = load_from_disk(str(tmp_path / "ds"))
    assert set(ds) == {"train", "validation"} and ds["train"].num_rows == res.counts["train"]
    assert set(ds["train"].column_names) == {"instruction", "input", "output", "system", "prompt", "completion"}
    assert (tmp_path / "ds" / "README.md").read_text().strip() and res.card == tmp_path / "ds" / "README.md"


def test_empty_export_writes_an_empty_file_and_warns(filled: Any, settings: Any, tmp_path: Path) -> None:
    out = tmp_path / "none.jsonl"
    res = export(settings, out, "chatml", subject="biology", stores=filled)
    assert out.read_text() == "" and res.total == 0
    assert "no records match" in res.warning and "biology" in res.warning
    with pytest.raises(InputError, match="nothing to write"):
        export(settings, None, "chatml", stores=filled)


def test_cli_export_and_stats(filled: Any, home: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    r = CliRunner().invoke(app, ["store", "export", "--format", "sharegpt", "--out", str(out), "--split", "0.9",
                                 "--seed", "1", "--exclude-answer-shown"])
    assert r.exit_code == 0, r.output
    files = split_paths(out)
    assert sum(len(_rows(p)) for p in files.values()) == 8
    assert "conversations" in _rows(files["train"])[0]

    r = CliRunner().invoke(app, ["store", "export", "--out", str(tmp_path / "e.jsonl"), "--subject", "geology"])
    assert r.exit_code == 0 and "warning" in r.output and "no records match" in r.output
    assert (tmp_path / "e.jsonl").read_text() == ""

    r = CliRunner().invoke(app, ["store", "export", "--out", str(out), "--format", "csv"])
    assert r.exit_code == 2 and "unknown export format" in r.output

    png = tmp_path / "h.png"
    r = CliRunner().invoke(app, ["store", "stats", "--png", str(png), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["records"] == 10 and s["by_gate_decision"] == {"pass": 9, "reject": 1}
    assert s["by_subject"] == {"chemistry": 5, "physics": 5} and s["by_stage"] == {"cot": 9, "with_answer": 1}
    assert s["answer_shown"] == 1
    assert png.read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(app, ["store", "stats"])
    assert r.exit_code == 0 and "records per subject" in r.output
    assert (home / "reports" / "score_histogram.png").is_file()
