"""Question files from outside: encodings, byte-order marks, nesting, numbers, empty text and choices. Each
bad line is one InputError naming file and line; the other lines still load."""

from __future__ import annotations

import json
from pathlib import Path

from scireflect.questions import load_questions

GOOD = {"id": "ok", "question": "What is 2 + 2?", "answer": "4"}


def _load(tmp_path: Path, data: bytes) -> tuple[list, list[str]]:
    path = tmp_path / "q.jsonl"
    path.write_bytes(data)
    res = load_questions(path)
    return res.questions, [str(e) for e in res.errors]


def _line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def test_a_bom_keeps_line_one(tmp_path: Path) -> None:
    qs, errors = _load(tmp_path, b"\xef\xbb\xbf" + _line(GOOD))
    assert [q.id for q in qs] == ["ok"] and errors == []


def test_utf16_with_a_bom_is_read(tmp_path: Path) -> None:
    qs, errors = _load(tmp_path, (json.dumps(GOOD) + "\n").encode("utf-16"))
    assert [q.id for q in qs] == ["ok"] and errors == []


def test_utf16_without_a_bom_is_one_error(tmp_path: Path) -> None:
    import pytest

    from scireflect.errors import InputError

    with pytest.raises(InputError, match="UTF-16"):
        _load(tmp_path, (json.dumps(GOOD) + "\n").encode("utf-16-le"))


def test_a_bad_byte_loses_only_its_line(tmp_path: Path) -> None:
    qs, errors = _load(tmp_path, _line(GOOD) + b'{"id": "x", "question": "caf\xe9", "answer": "1"}\n'
                       + _line({**GOOD, "id": "ok2"}))
    assert [q.id for q in qs] == ["ok", "ok2"]
    assert len(errors) == 1 and ":2:" in errors[0] and "not UTF-8" in errors[0] and "0xe9" in errors[0]


def test_deep_nesting_is_one_error(tmp_path: Path) -> None:
    deep = b'{"id": "d", "question": "q", "answer": "1", "metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"
    qs, errors = _load(tmp_path, deep + _line(GOOD))
    assert [q.id for q in qs] == ["ok"]
    assert len(errors) == 1 and ":1:" in errors[0] and "nested" in errors[0]


def test_nan_and_overflowing_numbers_are_not_answers(tmp_path: Path) -> None:
    qs, errors = _load(tmp_path, b'{"id": "n", "question": "q", "answer": NaN}\n'
                       b'{"id": "i", "question": "q", "answer": 1e999}\n' + _line(GOOD))
    assert [q.id for q in qs] == ["ok"]
    assert len(errors) == 2 and "NaN" in errors[0] and "out of range" in errors[1]


def test_empty_text_and_choices_outside_the_options(tmp_path: Path) -> None:
    lines = [{"id": "w", "question": "   ", "answer": "1"},
             {"id": "a", "question": "q", "answer": "  "},
             {"id": "mc", "question": "q", "answer": "E", "type": "multiple_choice", "choices": ["1", "2"]},
             {"id": "mc2", "question": "q", "answer": "2", "type": "multiple_choice", "choices": ["1", "2"]},
             {"id": "mc3", "question": "q", "answer": "B", "type": "multiple_choice", "choices": ["1", "2"]}]
    qs, errors = _load(tmp_path, b"".join(_line(x) for x in lines))
    assert [q.id for q in qs] == ["mc2", "mc3"]
    assert [e.split(": ", 1)[1] for e in errors][:2] == ["field 'question' is empty", "field 'answer' is empty"]
    assert "neither an option letter (A-B)" in errors[2]
