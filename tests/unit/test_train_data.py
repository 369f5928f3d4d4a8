"""Training data: every export format becomes chat messages; bad files fail with file and line."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from scireflect.errors import ConfigError, InputError
from scireflect.training.data import detect_format, load_file, load_store, to_messages
from scireflect.training.sft import split_validation

Q, A = "What is 2+2?", "4."
EXPECTED = [{"role": "user", "content": Q}, {"role": "assistant", "content": A}]


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("record, fmt", [
    ({"messages": EXPECTED, "meta": {"x": 1}}, "chatml"),
    ({"prompt": Q, "completion": A, "subject": "math"}, "prompt_completion"),
    ({"instruction": Q, "input": "", "output": A}, "alpaca"),
    ({"conversations": [{"from": "human", "value": Q}, {"from": "gpt", "value": A}]}, "sharegpt"),
])
def test_each_format_becomes_the_same_messages(record: dict, fmt: str) -> None:
    assert detect_format(record) == fmt
    assert to_messages(record, fmt) == EXPECTED


def test_alpaca_input_is_appended_and_system_kept() -> None:
    msgs = to_messages({"instruction": "Solve.", "input": "x+1=2", "output": "x=1"}, "alpaca")
    assert msgs[0]["content"] == "Solve.\n\nx+1=2"
    sys_msgs = to_messages({"conversations": [{"from": "system", "value": "Be brief."},
                                              {"from": "human", "value": Q}, {"from": "gpt", "value": A}]},
                           "sharegpt")
    assert sys_msgs[0] == {"role": "system", "content": "Be brief."}


def test_conversational_prompt_completion() -> None:
    rec = {"prompt": [{"role": "user", "content": Q}], "completion": [{"role": "assistant", "content": A}]}
    assert to_messages(rec, detect_format(rec)) == EXPECTED


def test_trailing_user_turn_is_dropped() -> None:
    rec = {"messages": EXPECTED + [{"role": "user", "content": "thanks"}]}
    assert to_messages(rec, "chatml") == EXPECTED


def test_jsonl_file_is_detected_per_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", [{"instruction": Q, "input": "", "output": A}] * 3)
    loaded = load_file(path)
    assert len(loaded.train) == 3 and loaded.validation is None
    assert loaded.train[1].where == f"{path}:2"


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"prompt": Q, "completion": A}] * 2))
    assert len(load_file(path).train) == 2


def test_saved_dataset_dir_with_validation_split(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_list([{"messages": EXPECTED}] * 4),
                 "validation": Dataset.from_list([{"messages": EXPECTED}])}).save_to_disk(str(tmp_path / "ds"))
    loaded = load_file(tmp_path / "ds")
    assert len(loaded.train) == 4 and len(loaded.validation or []) == 1
    Dataset.from_list([{"prompt": Q, "completion": A}] * 3).save_to_disk(str(tmp_path / "plain"))
    assert len(load_file(tmp_path / "plain").train) == 3


# --- bad input ----------------------------------------------------------------------------------

def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(InputError, match="empty") as e:
        load_file(path)
    assert str(path) in str(e.value)


def test_blank_lines_only_means_no_records(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_text("\n\n")
    with pytest.raises(InputError, match="no training records"):
        load_file(path)


def test_missing_fields_are_named_with_line_numbers(tmp_path: Path) -> None:
    rows = [{"prompt": Q, "completion": A}, {"prompt": Q}, {"prompt": Q, "completion": A}, {"prompt": Q, "x": 1}]
    path = _write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputError) as e:
        load_file(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}:2: missing field 'completion'")
    assert "lines 4" in msg and "--skip-bad" in msg
    assert e.value.line == 2


def test_unknown_fields_on_first_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", [{"question": Q, "answer": A}])
    with pytest.raises(InputError, match=r"bad.jsonl:1: record has no known training fields .*'answer', 'question'"):
        load_file(path)


def test_invalid_json_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"prompt": Q, "completion": A}) + "\n{not json\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2: invalid JSON"):
        load_file(path)


@pytest.mark.parametrize("record, match", [
    ({"messages": [{"role": "user", "content": Q}]}, "no non-empty assistant message"),
    ({"messages": [{"role": "robot", "content": Q}]}, "unknown role 'robot'"),
    ({"messages": [{"role": "user"}]}, r"messages\[0\] needs 'role' and 'content'"),
    ({"messages": []}, "non-empty list"),
    ({"prompt": Q, "completion": 4}, "must be a string"),
    ({"conversations": [{"from": "alien", "value": Q}]}, "unknown 'from'"),
])
def test_malformed_records(tmp_path: Path, record: dict, match: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [record])
    with pytest.raises(InputError, match=match):
        load_file(path)


def test_skip_bad_trains_on_the_rest(tmp_path: Path) -> None:
    path = _write(tmp_path / "mixed.jsonl", [{"prompt": Q, "completion": A}, {"prompt": Q}, {"prompt": Q,
                                                                                            "completion": A}])
    loaded = load_file(path, skip_bad=True)
    assert len(loaded.train) == 2
    assert loaded.skipped == [f"{path}:2: missing field 'completion' (prompt_completion format)"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_file(tmp_path / "nope.jsonl")


def test_dir_that_is_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a dataset"):
        load_file(tmp_path)


# --- the record store ---------------------------------------------------------------------------

def test_from_store_without_export_function(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("scireflect.store.export")
    monkeypatch.setitem(sys.modules, "scireflect.store.export", fake)
    import scireflect.store as store_pkg

    monkeypatch.setattr(store_pkg, "export", fake, raising=False)
    with pytest.raises(ConfigError, match="iter_export_rows"):
        load_store(settings)


def test_from_store_reads_chatml_rows(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def iter_export_rows(settings, fmt="chatml", **filters):
        seen.update(fmt=fmt, **filters)
        yield {"messages": EXPECTED, "meta": {}}
        yield {"messages": [{"role": "user", "content": Q}]}

    fake = types.ModuleType("scireflect.store.export")
    fake.iter_export_rows = iter_export_rows  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scireflect.store.export", fake)
    import scireflect.store as store_pkg

    monkeypatch.setattr(store_pkg, "export", fake, raising=False)
    with pytest.raises(InputError, match="store train row:2: no non-empty assistant"):
        load_store(settings, {"subject": "physics"})
    assert seen == {"fmt": "chatml", "subject": "physics"}
    loaded = load_store(settings, {"subject": "physics"}, skip_bad=True)
    assert [e.messages for e in loaded.train] == [EXPECTED] and loaded.validation is None


def test_from_store_empty(settings) -> None:
    with pytest.raises(InputError, match="no training records in the store"):
        load_store(settings)


def test_validation_split_is_seeded_and_never_empties_train() -> None:
    from scireflect.training.data import Example

    ex = [Example(EXPECTED, str(i)) for i in range(16)]
    a, b = split_validation(ex, 0.125, 0), split_validation(ex, 0.125, 0)
    assert [e.where for e in a[1]] == [e.where for e in b[1]] and len(a[1]) == 2 and len(a[0]) == 14
    assert split_validation(ex[:2], 0.9, 0)[0] and split_validation(ex[:1], 0.5, 0) == (ex[:1], [])


def test_from_store_reports_skipped_validation_records_too(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def split_rows(settings, fmt="chatml", split=0.9, seed=0, **filters):
        return {"train": [{"messages": EXPECTED}], "validation": [{"messages": [{"role": "user", "content": Q}]},
                                                                   {"messages": EXPECTED}]}

    fake = types.ModuleType("scireflect.store.export")
    fake.iter_export_rows = lambda settings, fmt="chatml", **f: iter(())  # type: ignore[attr-defined]
    fake.split_rows = split_rows  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scireflect.store.export", fake)
    import scireflect.store as store_pkg

    monkeypatch.setattr(store_pkg, "export", fake, raising=False)
    loaded = load_store(settings, skip_bad=True, val_split=0.5)
    assert len(loaded.train) == 1 and len(loaded.validation) == 1
    assert len(loaded.skipped) == 1 and "store validation row:1" in loaded.skipped[0]
