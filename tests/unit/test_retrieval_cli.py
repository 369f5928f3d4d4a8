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


def test_the_embedding_model_loads_once_per_cache(monkeypatch):
    """A retriever keeps its model loaded (`search -` answers every stdin query with one load); two
    embedding functions share a load only through a cache they are both given, never a hidden global."""
    import numpy as np

    from scireflect.tools.retrieval import embeddings

    loads: list[str] = []

    class _Model:
        def encode(self, texts, **_):
            return np.ones((len(texts), 4), dtype=np.float32)

    monkeypatch.setattr(embeddings, "_load", lambda key: loads.append(key) or _Model())
    monkeypatch.setattr(embeddings, "_threads_for", lambda n: __import__("contextlib").nullcontext())
    ef = embeddings.SentenceTransformerEmbedding()
    ef(["a"]), ef(["b", "c"])
    assert len(loads) == 1 and len(ef.models) == 1
    embeddings.SentenceTransformerEmbedding()(["a"])  # its own cache: its own load
    assert len(loads) == 2
    shared = embeddings.ModelCache()
    for _ in range(3):
        embeddings.SentenceTransformerEmbedding(models=shared)(["a"])
    assert len(loads) == 3
    assert "models" not in ef.get_config()  # the stored collection config is unchanged
