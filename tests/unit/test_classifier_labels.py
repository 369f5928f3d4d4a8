"""Labeled-file reading and the bad inputs the classifier must refuse with a clear, located error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scireflect.errors import InputError
from scireflect.training.labels import check_trainable, load_labels, parse_label

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "examples" / "quality_labels.jsonl"


def _line(label: object = 1, **kw: object) -> str:
    obj = {"question": {"id": "q1", "question": "What is 2+2?", "answer": "4"}, "solution": "2+2 = 4. The answer is 4."}
    if label is not None:
        obj["label"] = label
    obj.update(kw)
    return json.dumps(obj)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "labels.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_shipped_labels_meet_the_issue() -> None:
    ex = load_labels(LABELS)
    assert len(ex) >= 300
    good = sum(e.label for e in ex)
    assert 0.28 <= good / len(ex) <= 0.4  # about one good to two bad
    kinds = {e.kind for e in ex}
    assert {"wrong_answer", "truncated", "answer_only", "unjustified_leap", "copied_reference", "circular",
            "unit_error"} <= kinds
    assert len({e.trace.question.subject for e in ex}) >= 5
    check_trainable(ex, str(LABELS), 10)


@pytest.mark.parametrize("value,expected", [(1, 1), (0, 0), (True, 1), ("good", 1), ("BAD", 0), (1.0, 1), ("x", None),
                                            (2, None)])
def test_label_values(value: object, expected: int | None) -> None:
    assert parse_label(value) == expected


def test_missing_label_names_file_and_line(tmp_path: Path) -> None:
    p = _write(tmp_path, [_line(1), _line(0), _line(None)])
    with pytest.raises(InputError, match=r"labels\.jsonl:3: missing \"label\""):
        load_labels(p)


def test_bad_label_value_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r":1: \"label\" must be"):
        load_labels(_write(tmp_path, [_line("maybe")]))
    with pytest.raises(InputError, match=r":2: not valid JSON"):
        load_labels(_write(tmp_path, [_line(1), "{oops"]))
    with pytest.raises(InputError, match=r":1: bad labeled solution: needs"):
        load_labels(_write(tmp_path, [json.dumps({"label": 1, "question": "q"})]))


def test_single_class_is_refused(tmp_path: Path) -> None:
    ex = load_labels(_write(tmp_path, [_line(1)] * 30))
    with pytest.raises(InputError, match="only one class"):
        check_trainable(ex, "labels.jsonl", 10)


def test_too_few_examples_is_refused(tmp_path: Path) -> None:
    ex = load_labels(_write(tmp_path, [_line(1)] * 4 + [_line(0)] * 30))
    with pytest.raises(InputError, match="too few examples: 4 good"):
        check_trainable(ex, "labels.jsonl", 10)
    with pytest.raises(InputError, match="no labeled solutions"):
        check_trainable([], "labels.jsonl", 10)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_labels(tmp_path / "nope.jsonl")


def test_cli_train_bad_input_exits_1_with_one_line(tmp_path: Path, home: Path) -> None:
    from scireflect.cli import app

    p = _write(tmp_path, [_line(1)] * 20)
    res = CliRunner().invoke(app, ["classifier", "train", str(p)])
    assert res.exit_code == 1
    assert "only one class" in res.output and "Traceback" not in res.output
    p = _write(tmp_path, [_line(1), _line(None)])
    res = CliRunner().invoke(app, ["classifier", "train", str(p)])
    assert res.exit_code == 1 and "labels.jsonl:2" in res.output


def test_trace_shapes(tmp_path: Path) -> None:
    from scireflect.schema import Attempt, Question, Trace

    t = Trace(question_id="q9", question=Question(id="q9", question="Q?", answer="1"), status="accepted_cot",
              attempts=[Attempt(stage="cot", solution="x = 1. The answer is 1.")])
    lines = [json.dumps({"label": 1, "trace": t.model_dump(mode="json")}),
             json.dumps({"label": 0, **t.model_dump(mode="json")}),
             json.dumps({"label": "bad", "question": "Q?", "attempts": [{"stage": "reflection", "solution": "1"}]})]
    ex = load_labels(_write(tmp_path, lines))
    assert [e.trace.question_id for e in ex][:2] == ["q9", "q9"]
    assert ex[2].trace.status == "accepted_reflection" and ex[2].label == 0
