"""BM25 index: tokenizer, ranking, filter masks, persistence."""

from __future__ import annotations

from scireflect.tools.retrieval.lexical import LexicalIndex, tokenize
from scireflect.tools.retrieval.store import read_manifest

DOCS = [
    ("a", "The half-life of a first-order reaction is ln 2 over k.", {"subject": "chemistry", "source": "c/kin.md",
                                                                       "filename": "kin.md"}),
    ("b", "Projectile motion: the range is u^2 sin(2 theta) / g.", {"subject": "physics", "source": "p/kin.md",
                                                                     "filename": "kin.md"}),
    ("c", "Radioactive decay is first order; the half-life does not depend on the amount.",
     {"subject": "physics", "source": "p/nuc.md", "filename": "nuc.md"}),
]


def test_tokenize_drops_stopwords_and_plurals():
    assert tokenize("The Forces on the masses") == ["force", "masse"]
    assert tokenize("batteries") == tokenize("battery") and tokenize("gases") == tokenize("gase")
    assert tokenize("gas") == ["gas"] and tokenize("focus") == ["focus"]
    assert tokenize("E = mc^2") == ["e", "mc", "2"]


def test_search_ranks_and_filters():
    idx = LexicalIndex.build(DOCS, generation="g1")
    ids = [cid for cid, _ in idx.search("half-life first order", 3)]
    assert ids[:2] == ["a", "c"] or ids[:2] == ["c", "a"]
    assert "b" not in ids
    assert [cid for cid, _ in idx.search("half-life", 3, {"subject": ["physics"]})] == ["c"]
    assert [cid for cid, _ in idx.search("half-life range", 3, {"source": ["kin.md"]})] in (["a", "b"], ["b", "a"])
    assert idx.search("half-life", 3, {"subject": ["biology"]}) == []
    assert idx.search("zebra quokka", 3) == []
    assert idx.search("the of", 3) == []


def test_save_and_load_round_trip(tmp_path):
    idx = LexicalIndex.build(DOCS, generation="g7")
    idx.save(tmp_path / "bm25")
    assert read_manifest(tmp_path / "bm25") == {"format": 1, "generation": "g7", "count": 3}
    again = LexicalIndex.load(tmp_path / "bm25")
    assert again is not None and again.generation == "g7" and len(again) == 3
    assert again.search("projectile range", 1) == idx.search("projectile range", 1)
    # saving again replaces the folder atomically and leaves no temporary folders behind
    LexicalIndex.build(DOCS[:1], generation="g8").save(tmp_path / "bm25")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]
    assert LexicalIndex.load(tmp_path / "bm25").generation == "g8"


def test_empty_index(tmp_path):
    idx = LexicalIndex.build([], generation="g0")
    assert idx.search("anything", 5) == []
    idx.save(tmp_path / "e")
    assert len(LexicalIndex.load(tmp_path / "e")) == 0
    assert LexicalIndex.load(tmp_path / "missing") is None
