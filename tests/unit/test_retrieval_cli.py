"""CLI paths that need no embedding model: usage errors, an unreachable server, an empty workspace."""

from __future__ import annotations

from typer.testing import CliRunner

from scireflect.cli import app
from scireflect.testing.retrieval import free_port

runner = CliRunner()


def test_ingest_without_paths_is_a_usage_error(tmp_path):
    r = runner.invoke(app, ["ingest", "--home", str(tmp_path)])
    assert r.exit_code == 2


def test_unreachable_chroma_url_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "a.md").write_text("# A\nText.\n")
    url = f"http://127.0.0.1:{free_port()}"
    r = runner.invoke(app, ["ingest", str(tmp_path / "a.md"), "--home", str(tmp_path / "ws"), "--chroma-url", url])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"Chroma server at {url} does not answer" in lines[0]
    r = runner.invoke(app, ["search", "x", "--home", str(tmp_path / "ws"), "--chroma-url", url])
    assert r.exit_code == 2 and "does not answer" in r.output


def test_bad_chroma_url_is_a_config_error(tmp_path):
    r = runner.invoke(app, ["search", "x", "--home", str(tmp_path), "--chroma-url", "ftp://host"])
    assert r.exit_code == 2 and "is not http://HOST:PORT" in r.output


def test_search_with_nothing_ingested(tmp_path):
    r = runner.invoke(app, ["search", "anything", "--home", str(tmp_path)])
    assert r.exit_code == 2
    assert "nothing ingested" in r.output and "scireflect ingest PATH" in r.output


def test_search_rejects_unknown_mode(tmp_path):
    r = runner.invoke(app, ["search", "x", "--mode", "magic", "--home", str(tmp_path)])
    assert r.exit_code == 2
