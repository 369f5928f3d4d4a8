"""``scireflect train`` and ``scireflect train merge`` through typer's CliRunner: exit codes and one-line errors."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_support import sixteen, tiny_model_dir  # noqa: E402

from scireflect.cli import app  # noqa: E402

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_train_then_merge(home: Path, tmp_path: Path) -> None:
    pytest.importorskip("trl", reason="the train extra is not installed")
    data = sixteen(tmp_path / "d.jsonl", "chatml")
    res = _run("train", "--data", str(data), "--base", str(tiny_model_dir()), "--name", "cli", "--max-steps", "3",
               "--max-length", "64", "--lr", "1e-2", "--logging-steps", "1", "--val-split", "0.25", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    run_dir = Path(out["run_dir"])
    assert run_dir == home / "train" / "cli" and out["global_step"] == 3 and out["final_val_loss"] is not None
    assert (run_dir / "adapter_model.safetensors").is_file()
    res = _run("train", "merge", str(run_dir), "--out", str(tmp_path / "merged"), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["out"] == str(tmp_path / "merged")
    assert (tmp_path / "merged" / "config.json").is_file()
    # human output names the run and the merge command
    res = _run("train", "--data", str(data), "--base", str(tiny_model_dir()), "--out", str(tmp_path / "r2"),
               "--max-steps", "1", "--max-length", "64", "--no-progress")
    assert res.exit_code == 0, res.output
    assert "lora run in" in res.stdout and "scireflect train merge" in res.stdout
    assert "train loss " in res.stdout and "at step 1 (last logged)" in res.stdout
    assert res.stderr == ""  # --no-progress: no status lines


def test_missing_data_fails_before_the_imports(home: Path, tmp_path: Path) -> None:
    res = _run("train", "--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r"))
    assert res.exit_code == 1 and res.stderr.strip() == f"error: {tmp_path / 'nope.jsonl'}: training data not found"


def test_empty_data_file(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = _run("train", "--data", str(empty), "--out", str(tmp_path / "r"))
    assert res.exit_code == 1
    assert f"{empty}: training data file is empty" in res.stderr


def test_records_without_fields(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "Q", "completion": "A"}) + "\n" + json.dumps({"prompt": "Q"}) + "\n")
    res = _run("train", "--data", str(bad), "--out", str(tmp_path / "r"))
    assert res.exit_code == 1
    assert f"{bad}:2: missing field 'completion'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1  # one line, no traceback


def test_base_path_that_does_not_exist(home: Path, tmp_path: Path) -> None:
    data = sixteen(tmp_path / "d.jsonl")
    res = _run("train", "--data", str(data), "--base", str(tmp_path / "no-model"), "--out", str(tmp_path / "r"))
    assert res.exit_code == 2
    assert "base model path does not exist" in res.stderr and "no-model" in res.stderr


def test_no_data_and_conflicting_sources(home: Path, tmp_path: Path) -> None:
    assert "no training data" in _run("train", "--out", str(tmp_path / "r")).stderr
    res = _run("train", "--data", "x.jsonl", "--from-store", "--out", str(tmp_path / "r"))
    assert res.exit_code == 2 and "either --data FILE or --from-store" in res.stderr


def test_bad_option_values(home: Path, tmp_path: Path) -> None:
    res = _run("train", "--data", "x.jsonl", "--val-split", "1.5")
    assert res.exit_code == 2 and res.stderr.strip() == "error: --val-split must be less than 1, got 1.5"
    res = _run("train", "--data", "x.jsonl", "--device", "tpu")
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: --device must be one of 'auto', 'cpu' or 'cuda', got 'tpu'"
    res = _run("train", "--from-store", "--filter", "novalue")
    assert res.exit_code == 2 and "--filter expects KEY=VALUE" in res.stderr


def test_from_store_without_export(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("scireflect.store.export")
    monkeypatch.setitem(sys.modules, "scireflect.store.export", fake)
    import scireflect.store as store_pkg

    monkeypatch.setattr(store_pkg, "export", fake, raising=False)
    res = _run("train", "--from-store")
    assert res.exit_code == 2 and "iter_export_rows" in res.stderr


def test_from_store_with_unknown_filter(home: Path) -> None:
    res = _run("train", "--from-store", "--filter", "colour=red", "--val-split", "0")
    assert res.exit_code == 2 and "colour" in res.stderr


def test_resume_without_checkpoint(home: Path, tmp_path: Path) -> None:
    res = _run("train", "--data", "x.jsonl", "--resume", "--out", str(tmp_path / "never"))
    assert res.exit_code == 2 and "--resume: no checkpoint" in res.stderr


def test_merge_errors(home: Path, tmp_path: Path) -> None:
    res = _run("train", "merge", str(tmp_path / "missing"), "--out", str(tmp_path / "m"))
    assert res.exit_code == 2 and "adapter directory not found" in res.stderr
    res = _run("train", "merge", str(tmp_path), "--out", str(tmp_path / "m"))
    assert res.exit_code == 2 and "not a LoRA adapter" in res.stderr
    res = _run("train", "merge", str(tmp_path), "--out", str(tmp_path / "m2"), "--dtype", "int3")
    assert res.exit_code == 2 and "unknown dtype" in res.stderr


def test_tensorboard_missing(home: Path, tmp_path: Path) -> None:
    try:
        import tensorboard  # noqa: F401

        pytest.skip("tensorboard is installed, so --tensorboard works")
    except ImportError:
        pass
    res = _run("train", "--data", "x.jsonl", "--tensorboard", "--out", str(tmp_path / "r"))
    assert res.exit_code == 2 and "pip install tensorboard" in res.stderr
