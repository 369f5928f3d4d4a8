"""The OpenAI-compatible embeddings alternative, against a small local server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

pytest.importorskip("chromadb", reason="needs the retrieval extra: pip install 'scireflect[retrieval]'")

from scireflect.cli import app  # noqa: E402

pytestmark = pytest.mark.integration
runner = CliRunner()
DIM = 64


def embed(text: str) -> list[float]:
    """A deterministic bag-of-words vector: texts that share words point the same way."""
    v = [0.0] * DIM
    for w in text.lower().split():
        v[int(hashlib.md5(w.strip(".,?").encode()).hexdigest(), 16) % DIM] += 1.0
    return v


class Handler(BaseHTTPRequestHandler):
    seen_auth: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen_auth.append(self.headers.get("Authorization", ""))
        if self.path != "/v1/embeddings" or body.get("model") != "toy-embed":
            self.send_response(404)
            self.end_headers()
            return
        data = [{"index": i, "embedding": embed(t)} for i, t in enumerate(body["input"])]
        out = json.dumps({"data": data, "model": "toy-embed"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture()
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_ingest_and_search_through_an_embeddings_endpoint(tmp_path, endpoint, monkeypatch):
    monkeypatch.setenv("SCIREFLECT_EMBEDDING_URL", endpoint)
    monkeypatch.setenv("SCIREFLECT_EMBEDDING_MODEL", "toy-embed")
    monkeypatch.setenv("SCIREFLECT_EMBEDDING_API_KEY", "sk-test")
    books = tmp_path / "books"
    books.mkdir()
    (books / "a.md").write_text("# Waves\n\n## Sound\nSound is a longitudinal pressure wave.\n\n"
                                "## Light\nLight is a transverse electromagnetic wave.\n")
    home = str(tmp_path / "ws")
    r = runner.invoke(app, ["ingest", str(books), "--home", home])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["search", "longitudinal pressure wave", "--mode", "dense", "-k", "1", "--json",
                            "--home", home])
    assert json.loads(r.stdout)[0]["section"] == "Sound"
    assert Handler.seen_auth[-1] == "Bearer sk-test"
    stored = (tmp_path / "ws" / "chroma" / "db" / "chroma.sqlite3").read_bytes()
    assert b"sk-test" not in stored  # the key is read from the environment, never stored
    monkeypatch.setenv("SCIREFLECT_EMBEDDING_MODEL", "missing-model")
    r = runner.invoke(app, ["ingest", str(books), "--home", home, "--collection", "other"])
    assert r.exit_code == 2 and "HTTP 404" in r.output
