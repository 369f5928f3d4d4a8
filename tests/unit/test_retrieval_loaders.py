"""Loaders: each format's sections and subject, and each kind of bad file as one InputError line."""

from __future__ import annotations

from pathlib import Path

import pytest

from scireflect.errors import InputError
from scireflect.testing.retrieval import make_encrypted_pdf, make_pdf
from scireflect.tools.retrieval.loaders import load


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


def test_markdown_front_matter_and_heading_trail(tmp_path):
    p = write(tmp_path, "k.md", "---\nsubject: Physics\ntitle: Kin\n---\n# Kinematics\nIntro.\n\n"
                                "## Projectile motion\nRange is u^2 sin 2t / g.\n```\n# not a heading\n```\n")
    doc = load(p)
    assert doc.subject == "Physics"
    assert [s.heading for s in doc.sections] == ["Kinematics", "Projectile motion"]
    assert doc.sections[1].path == ("Kinematics", "Projectile motion")
    assert "# not a heading" in doc.sections[1].text


def test_latex_sections_subject_and_markup(tmp_path):
    p = write(tmp_path, "la.tex", "% subject: mathematics\n\\documentclass{article}\\begin{document}\n"
                                  "\\section{Eigen\\emph{values}}\\label{s:e}\nAn \\textbf{eigenvector} v. % note\n"
                                  "\\subsection*{Trace}\nSum of eigenvalues.\n\\end{document}\n")
    doc = load(p)
    assert doc.subject == "mathematics"
    assert [s.heading for s in doc.sections] == ["Eigenvalues", "Trace"]
    assert doc.sections[0].text == "An eigenvector v."
    assert doc.sections[1].path == ("Eigenvalues", "Trace")


def test_text_setext_headings(tmp_path):
    p = write(tmp_path, "p.txt", "subject: mathematics\n\nProbability\n===========\n\nBayes\n-----\nP(A|B).\n\n"
                                 "Variance\n--------\nE[X^2] - E[X]^2.\n")
    doc = load(p)
    assert doc.subject == "mathematics"
    assert [(s.heading, s.text) for s in doc.sections] == [("Bayes", "P(A|B)."), ("Variance", "E[X^2] - E[X]^2.")]


def test_pdf_pages(tmp_path):
    p = write(tmp_path, "b.pdf", make_pdf([["Ohm law: V = IR."], ["Power is IV."]]))
    doc = load(p)
    assert [(s.page, s.text) for s in doc.sections] == [(1, "Ohm law: V = IR."), (2, "Power is IV.")]


@pytest.mark.parametrize("name, data, reason", [
    ("empty.md", "", "empty file"),
    ("blank.txt", "  \n\n", "empty file"),
    ("blob.txt", b"\x00\x01\x02binary\x00", "binary file"),
    ("notes.docx", "text", "unknown extension '.docx'"),
    ("noext", "text", "unknown extension '(none)'"),
    ("latin1.md", "# Title\n\nline two\ncaf\xe9".encode("latin-1"), "not UTF-8"),
    ("broken.pdf", make_pdf([["x"]])[:150], "corrupt PDF"),
    ("fake.pdf", "just text, no header", "corrupt PDF (no %PDF header)"),
    ("locked.pdf", make_encrypted_pdf([["secret text"]]), "encrypted PDF"),
    ("images.pdf", make_pdf([[]]), "no extractable text"),
    ("headings-only.md", "# A\n## B\n", "no text found"),
])
def test_bad_files_raise_one_line_input_error(tmp_path, name, data, reason):
    p = write(tmp_path, name, data)
    with pytest.raises(InputError) as ei:
        load(p)
    msg = str(ei.value)
    assert reason in msg and str(p) in msg
    assert "\n" not in msg


def test_non_utf8_names_the_line(tmp_path):
    p = write(tmp_path, "latin1.md", "# Title\n\nline two\ncaf\xe9".encode("latin-1"))
    with pytest.raises(InputError) as ei:
        load(p)
    assert ei.value.line == 4
    assert f"{p}:4:" in str(ei.value)


def test_pdf_with_empty_user_password_opens(tmp_path):
    p = write(tmp_path, "open.pdf", make_encrypted_pdf([["Readable text."]], password=""))
    assert load(p).sections[0].text == "Readable text."
