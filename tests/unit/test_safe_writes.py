"""Files the user names are written safely: a device is written in place and never replaced, a directory or a
missing parent is one line (exit 2), a write error too, and nothing else on disk is touched."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.files import OutputError, write_output

sys.path.insert(0, str(Path(__file__).parent))
from test_export_formats import fake_decontam  # noqa: E402
from test_store_records import make_trace  # noqa: E402


@pytest.fixture
def filled(stores: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    fake_decontam(monkeypatch)
    for i in range(3):
        stores.records.add_from_trace(make_trace(i))
    return stores


def test_write_output_rules(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    write_output(target, "one")
    write_output(target, "two")
    assert target.read_text() == "two" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with pytest.raises(OutputError, match="is a directory"):
        write_output(tmp_path, "x")
    with pytest.raises(OutputError, match="does not exist"):
        write_output(tmp_path / "missing" / "a.txt", "x")
    assert not (tmp_path / "missing").exists()
    write_output(tmp_path / "made" / "a.txt", "x", create_parents=True)
    assert (tmp_path / "made" / "a.txt").read_text() == "x"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_device_is_written_in_place_never_replaced() -> None:
    write_output("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(OutputError, match="No space left"):
        write_output("/dev/full", "x" * 10_000)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # still the device, not a regular file


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_store_export_to_dev_full_fails_in_one_line_and_keeps_the_device(filled: Any, home: Path) -> None:
    res = CliRunner().invoke(app, ["store", "export", "--format", "chatml", "--out", "/dev/full"])
    assert res.exit_code == 2, res.output
    assert "cannot write /dev/full" in res.output and "Traceback" not in res.output
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not os.path.exists("/dev/full.decontam.json")


@pytest.mark.parametrize("where", ["dir", "missing_parent", "hf_on_file"])
def test_bad_output_paths_are_one_line_and_create_nothing(filled: Any, home: Path, tmp_path: Path,
                                                          where: str) -> None:
    existing = tmp_path / "file.txt"
    existing.write_text("keep")
    args = {"dir": ["--out", str(tmp_path)],
            "missing_parent": ["--out", str(tmp_path / "nope" / "sft.jsonl")],
            "hf_on_file": ["--hf-dataset", str(existing)]}[where]
    before = sorted(p.name for p in tmp_path.iterdir())
    res = CliRunner().invoke(app, ["store", "export", "--format", "chatml", *args])
    assert res.exit_code == 2, res.output
    assert res.output.count("error:") == 1 and "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before and existing.read_text() == "keep"


def test_traces_export_to_a_missing_directory_is_one_line(filled: Any, home: Path, tmp_path: Path) -> None:
    trace_id = next(iter(filled.records.iter())).trace_id
    from scireflect.schema import Trace

    t = Trace(id=trace_id, question_id="q0", status="accepted_cot")
    filled.traces.start(t)
    res = CliRunner().invoke(app, ["traces", "export", trace_id, "--out", str(tmp_path / "nope" / "t.json")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_a_workspace_that_is_a_file_and_a_port_out_of_range_are_one_line(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    monkeypatch.setenv("SCIREFLECT_HOME", str(afile))
    res = CliRunner().invoke(app, ["traces", "list"])
    assert res.exit_code == 2 and "exists and is not a directory" in res.output and "Traceback" not in res.output
    monkeypatch.delenv("SCIREFLECT_HOME")
    res = CliRunner().invoke(app, ["traces", "serve", "--port", "99999"])
    assert res.exit_code == 2 and "65535" in res.output
