"""Chunking: token bounds, overlap, headings, and stable content-hash ids."""

from __future__ import annotations

from scireflect.tools.retrieval.chunking import Piece, chunk_id, chunk_sections, count_tokens
from scireflect.tools.retrieval.loaders import Section


def sentences(n: int, words: int = 9) -> str:
    return " ".join(f"Sentence {i} " + " ".join(f"w{i}x{j}" for j in range(words)) + "." for i in range(n))


def test_short_section_is_one_chunk_with_heading_trail():
    pieces = chunk_sections([Section("Range is u^2 sin(2t)/g.", "Projectile", ("Kinematics", "Projectile"))])
    assert len(pieces) == 1
    assert pieces[0].text == "Kinematics > Projectile\nRange is u^2 sin(2t)/g."
    assert pieces[0].section == "Projectile"


def test_chunks_respect_the_token_bound_and_overlap():
    sec = Section(sentences(40), "H", ("H",))
    pieces = chunk_sections([sec], max_tokens=60, overlap=15)
    assert len(pieces) > 5
    assert all(count_tokens(p.text) <= 60 for p in pieces)
    for a, b in zip(pieces, pieces[1:]):
        last_sentence = a.text.rsplit("Sentence", 1)[1]
        assert last_sentence in b.text  # the next chunk repeats the tail of the previous one
    # every sentence appears somewhere
    joined = " ".join(p.text for p in pieces)
    assert all(f"Sentence {i} " in joined for i in range(40))


def test_no_overlap_means_no_repetition():
    pieces = chunk_sections([Section(sentences(20), None)], max_tokens=50, overlap=0)
    joined = " ".join(p.text for p in pieces)
    assert all(joined.count(f"Sentence {i} ") == 1 for i in range(20))


def test_overlong_sentence_is_split_into_windows():
    long = " ".join(f"t{i}" for i in range(500))
    pieces = chunk_sections([Section(long, None)], max_tokens=100, overlap=10)
    assert all(count_tokens(p.text) <= 100 for p in pieces)
    assert "t0" in pieces[0].text and "t499" in pieces[-1].text


def test_sections_and_pages_are_never_merged():
    pieces = chunk_sections([Section("one.", page=1), Section("two.", page=2)], max_tokens=200)
    assert [(p.text, p.page) for p in pieces] == [("one.", 1), ("two.", 2)]


def test_chunk_id_is_a_content_hash():
    p = Piece("text", "S", 3)
    assert chunk_id("/a.md", p, "physics") == chunk_id("/a.md", Piece("text", "S", 3, ordinal=9), "physics")
    assert chunk_id("/a.md", p, "physics") != chunk_id("/b.md", p, "physics")
    assert chunk_id("/a.md", p, "physics") != chunk_id("/a.md", Piece("text!", "S", 3), "physics")
    assert chunk_id("/a.md", p, "physics") != chunk_id("/a.md", p, "chemistry")
    assert len(chunk_id("/a.md", p, None)) == 32
