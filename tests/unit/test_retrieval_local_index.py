"""The local index: tokenizer, BM25 ranking, filters as row ranges, exact filtered dense search, persistence."""

from __future__ import annotations

import numpy as np

from scireflect.tools.retrieval.local_index import LocalIndex, tokenize
from scireflect.tools.retrieval.store import INDEX_FORMAT, read_manifest


def meta(subject: str, source: str, ordinal: int = 0) -> dict:
    return {"subject": subject, "source": source, "filename": source.rsplit("/", 1)[-1], "ordinal": ordinal}


DOCS = [
    ("a", "The half-life of a first-order reaction is ln 2 over k.", meta("chemistry", "c/kin.md"), [1, 0, 0]),
    ("b", "Projectile motion: the range is u^2 sin(2 theta) / g.", meta("physics", "p/kin.md"), [0, 1, 0]),
    ("c", "Radioactive decay is first order; the half-life does not depend on the amount.",
     meta("physics", "p/nuc.md"), [0, 0.6, 0.8]),
]


def test_tokenize_drops_stopwords_and_plurals():
    assert tokenize("The Forces on the masses") == ["force", "masse"]
    assert tokenize("batteries") == tokenize("battery") and tokenize("gases") == tokenize("gase")
    assert tokenize("gas") == ["gas"] and tokenize("focus") == ["focus"]
    assert tokenize("E = mc^2") == ["e", "mc", "2"]


def test_bm25_ranks_and_filters():
    idx = LocalIndex.build(DOCS, generation="g1")
    ids = [cid for cid, _ in idx.search("half-life first order", 3)]
    assert sorted(ids[:2]) == ["a", "c"] and "b" not in ids
    assert [cid for cid, _ in idx.search("half-life", 3, {"subject": ["physics"]})] == ["c"]
    assert sorted(cid for cid, _ in idx.search("half-life range", 3, {"source": ["kin.md"]})) == ["a", "b"]
    assert idx.search("half-life", 3, {"subject": ["biology"]}) == []
    assert idx.search("zebra quokka", 3) == []
    assert idx.search("the of", 3) == []


def test_rows_are_grouped_so_filters_are_few_ranges():
    rng = np.random.default_rng(0)
    docs = [(f"d{i}", f"text {i}", meta(["physics", "chemistry"][i % 2], f"{'pc'[i % 2]}{i % 5}.md", i),
             rng.standard_normal(4)) for i in range(40)]
    idx = LocalIndex.build(docs, generation="g")
    assert idx._filter({"subject": ["physics"]})[1] == [(20, 40)]
    assert len(idx._filter({"source": ["p1.md"]})[1]) == 1
    assert idx.allowed({"subject": ["physics"], "source": ["p1.md", "p2.md"]}) == 8
    assert idx.passes("d1", {"subject": ["chemistry"]}) and not idx.passes("d0", {"subject": ["chemistry"]})


def test_exact_filtered_dense_search():
    idx = LocalIndex.build(DOCS, generation="g1")
    assert [cid for cid, _ in idx.dense([0, 1, 0.1], 2, {"subject": ["physics"]})] == ["b", "c"]
    assert [cid for cid, _ in idx.dense([0, 0, 1], 5, {"source": ["p/nuc.md"]})] == ["c"]
    top = idx.dense([2, 0, 0], 1, {"subject": ["chemistry"]})
    assert top[0][0] == "a" and abs(top[0][1] - 1.0) < 1e-6  # cosine, whatever the query's length
    assert idx.dense([1, 0, 0], 3, {"subject": ["biology"]}) == []


def test_save_and_load_round_trip(tmp_path):
    idx = LocalIndex.build(DOCS, generation="g7")
    idx.save(tmp_path / "ix")
    assert read_manifest(tmp_path / "ix") == {"format": INDEX_FORMAT, "generation": "g7", "count": 3}
    again = LocalIndex.load(tmp_path / "ix")
    assert again is not None and again.generation == "g7" and len(again) == 3
    assert again.search("projectile range", 1) == idx.search("projectile range", 1)
    assert again.dense([0, 0, 1], 1, {"subject": ["physics"]}) == idx.dense([0, 0, 1], 1, {"subject": ["physics"]})
    # saving again replaces the folder atomically and leaves no temporary folders behind
    LocalIndex.build(DOCS[:1], generation="g8").save(tmp_path / "ix")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ix"]
    assert LocalIndex.load(tmp_path / "ix").generation == "g8"


def test_empty_index_and_missing_vectors(tmp_path):
    idx = LocalIndex.build([], generation="g0")
    assert idx.search("anything", 5) == [] and idx.vectors is None
    idx.save(tmp_path / "e")
    assert len(LocalIndex.load(tmp_path / "e")) == 0
    assert LocalIndex.load(tmp_path / "missing") is None
    assert LocalIndex.build([("x", "t", meta("p", "s"), None)], generation="g").vectors is None
