"""Question files: a ``unit`` that cannot be read is an InputError naming file and line, and that question is
skipped; the other lines (SciBench's LaTeX units included) still load."""

from __future__ import annotations

import json
from pathlib import Path

from scireflect.errors import InputError
from scireflect.questions import iter_questions, load_questions


def _write(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_unreadable_units_are_named_and_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        {"id": "kj", "question": "Enthalpy?", "answer": "-92.2", "unit": " $\\mathrm{~kJ} \\mathrm{~mol}^{-1}$"},
        {"id": "scale", "question": "Absolute zero?", "answer": "-233", "unit": "$^{\\circ} \\mathrm{N}$"},
        {"id": "pow", "question": "Lifetime?", "answer": "2.3", "unit": " $10^{11} \\mathrm{~s}$"},
        {"id": "blank", "question": "How many?", "answer": "4", "unit": " "},
        {"id": "none", "question": "Plain?", "answer": "1"},
        {"id": "prose", "question": "Odd?", "answer": "3", "unit": "cubic furlongs of moonlight"},
        {"id": "pct", "question": "Yield?", "answer": "45", "unit": "$\\%$"},
    ])
    res = load_questions(path)
    assert [q.id for q in res.questions] == ["kj", "pow", "blank", "none", "pct"]
    assert [(e.line, e.reason) for e in res.errors] == [
        (2, "unit '$^{\\circ} \\mathrm{N}$' could not be read as a unit"),
        (6, "unit 'cubic furlongs of moonlight' could not be read as a unit"),
    ]
    assert str(res.errors[1]) == f"{path}:6: unit 'cubic furlongs of moonlight' could not be read as a unit"
    assert all(isinstance(e, InputError) and e.exit_code == 1 for e in res.errors)


def test_a_skipped_line_does_not_claim_its_id(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        {"id": "a", "question": "Q?", "answer": "1", "unit": "blorps"},
        {"id": "a", "question": "Q?", "answer": "1", "unit": "m/s"},
    ])
    items = list(iter_questions(path))
    assert isinstance(items[0], InputError) and not isinstance(items[1], InputError)


def test_a_long_unit_is_shortened_in_the_one_line_message(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"id": "a", "question": "Q?", "answer": "1", "unit": "z\r\n" + "z" * 500}])
    (err,) = load_questions(path).errors
    assert "\n" not in str(err) and len(err.reason) < 130 and err.reason.endswith("could not be read as a unit")
