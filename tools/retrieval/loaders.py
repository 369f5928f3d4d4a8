"""Read textbook files (PDF, Markdown, LaTeX, plain text) into headed sections for chunking.

Every failure is an ``InputError`` naming the file (and the line where there is one), so ingestion can
skip the file with one line and go on with the rest.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from scireflect.errors import InputError, missing_dependency

MARKDOWN = (".md", ".markdown")
LATEX = (".tex",)
TEXT = (".txt", ".text")
PDF = (".pdf",)
EXTENSIONS = PDF + MARKDOWN + LATEX + TEXT


@dataclass
class Section:
    """A run of text under one heading (or one PDF page)."""

    text: str
    heading: str | None = None  # innermost heading
    path: tuple[str, ...] = ()  # heading trail, outermost first
    page: int | None = None


@dataclass
class Document:
    sections: list[Section]
    subject: str | None = None  # declared inside the file
    meta: dict[str, str] = field(default_factory=dict)


def load(path: Path) -> Document:
    """Parse one file; raises InputError with a one-line reason for anything it cannot read."""
    ext = path.suffix.lower()
    if ext not in EXTENSIONS:
        raise InputError(f"unknown extension '{path.suffix or '(none)'}' (expected {', '.join(EXTENSIONS)})",
                         path=str(path))
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=str(path)) from e
    if not data.strip():
        raise InputError("empty file", path=str(path))
    if ext in PDF:
        doc = _load_pdf(path, data)
    else:
        text = _decode(path, data)
        doc = {**dict.fromkeys(MARKDOWN, _parse_markdown), **dict.fromkeys(LATEX, _parse_latex),
               **dict.fromkeys(TEXT, _parse_text)}[ext](text)
    doc.sections = [s for s in doc.sections if s.text.strip()]
    if not doc.sections:
        raise InputError("no text found", path=str(path))
    return doc


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise InputError("binary file (contains NUL bytes), not text", path=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                         "convert it with iconv -t UTF-8", path=str(path), line=line) from e


# PDF -------------------------------------------------------------------------------------------------

def _load_pdf(path: Path, data: bytes) -> Document:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as e:
        raise missing_dependency("pypdf", "retrieval") from e
    if not data.lstrip().startswith(b"%PDF-"):
        raise InputError("corrupt PDF (no %PDF header)", path=str(path))
    # pypdf logs every repaired xref as a warning; a broken file is reported once, below.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    import io

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not _try_empty_password(reader):
            raise InputError("encrypted PDF (needs a password); decrypt it first, e.g. qpdf --decrypt",
                             path=str(path))
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            if text.strip():
                sections.append(Section(text=_tidy_pdf_text(text), page=number))
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as e:
        raise InputError(f"corrupt PDF ({type(e).__name__}: {_first_line(e)})", path=str(path)) from e
    except Exception as e:  # pypdf raises many kinds on damaged files; none should stop the batch
        raise InputError(f"unreadable PDF ({type(e).__name__}: {_first_line(e)})", path=str(path)) from e
    if not sections:
        raise InputError("PDF has no extractable text (scanned images need OCR first)", path=str(path))
    meta = {}
    try:
        if reader.metadata and reader.metadata.title:
            meta["title"] = str(reader.metadata.title)
    except Exception:  # metadata is optional; a broken info dict must not lose the text
        pass
    return Document(sections=sections, meta=meta)


def _try_empty_password(reader) -> bool:
    # Many "encrypted" PDFs only restrict printing and open with an empty user password.
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _tidy_pdf_text(text: str) -> str:
    text = re.sub(r"-\n(?=[a-z])", "", text)  # words hyphenated across lines
    return re.sub(r"[ \t]+", " ", text).strip()


def _first_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return msg[0][:160] if msg else "no details"


# Markdown --------------------------------------------------------------------------------------------

_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.S)
_ATX = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Flat ``key: value`` front matter (no YAML loader on untrusted text)."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    meta = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[m.end():]


def _parse_markdown(text: str) -> Document:
    meta, body = _front_matter(text)
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    buf: list[str] = []
    fenced = False

    def flush() -> None:
        if buf:
            sections.append(_section("\n".join(buf), trail))
            buf.clear()

    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        m = None if fenced else _ATX.match(line)
        if m:
            flush()
            level = len(m.group(1))
            trail[:] = [t for t in trail if t[0] < level] + [(level, m.group(2).strip())]
        else:
            buf.append(line)
    flush()
    return Document(sections=sections, subject=meta.get("subject") or None, meta=meta)


def _section(text: str, trail: list[tuple[int, str]]) -> Section:
    names = tuple(t[1] for t in trail)
    return Section(text=text.strip(), heading=names[-1] if names else None, path=names)


# LaTeX -----------------------------------------------------------------------------------------------

_SUBJECT_COMMENT = re.compile(r"^\s*%+\s*subject\s*:\s*(.+?)\s*$", re.I | re.M)
_SECTIONING = re.compile(r"\\(part|chapter|section|subsection|subsubsection)\*?\s*(?:\[[^\]]*\])?\s*\{")
_LEVELS = {"part": 0, "chapter": 1, "section": 2, "subsection": 3, "subsubsection": 4}
_DROP_CMDS = re.compile(r"\\(label|ref|eqref|cite|citep|citet|index|footnote|includegraphics)\*?(\[[^\]]*\])?\{[^{}]*\}")
_KEEP_ARG = re.compile(r"\\(textbf|textit|emph|underline|texttt|mathrm|text|textrm)\{([^{}]*)\}")
_ENV_LINE = re.compile(r"\\(begin|end)\{[^}]*\}(\[[^\]]*\])?")
_BARE_CMDS = re.compile(r"\\(maketitle|tableofcontents|noindent|centering|newpage|clearpage|item)\b")


def _parse_latex(text: str) -> Document:
    m = _SUBJECT_COMMENT.search(text)
    subject = m.group(1) if m else None
    begin = text.find("\\begin{document}")
    if begin >= 0:
        text = text[begin + len("\\begin{document}"):]
    text = text.replace("\\end{document}", "")
    text = re.sub(r"(?<!\\)%.*", "", text)  # comments
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    pos = 0
    for m in _SECTIONING.finditer(text):
        sections.append(_section(_latex_to_text(text[pos:m.start()]), trail))
        title, end = _braced(text, m.end())
        level = _LEVELS[m.group(1)]
        trail[:] = [t for t in trail if t[0] < level] + [(level, _latex_to_text(title))]
        pos = end
    sections.append(_section(_latex_to_text(text[pos:]), trail))
    return Document(sections=sections, subject=subject)


def _braced(text: str, start: int) -> tuple[str, int]:
    """The argument of a command whose opening brace ends at ``start``; nested braces allowed."""
    depth = 1
    i = start
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1], i


def _latex_to_text(s: str) -> str:
    s = _DROP_CMDS.sub("", s)
    for _ in range(3):  # nested \textbf{\emph{..}}
        s = _KEEP_ARG.sub(r"\2", s)
    s = _ENV_LINE.sub("", s)
    s = _BARE_CMDS.sub("", s)
    s = s.replace("~", " ").replace("\\\\", "\n")
    return re.sub(r"[ \t]+", " ", s).strip()


# Plain text ------------------------------------------------------------------------------------------

_SUBJECT_LINE = re.compile(r"\A\s*subject\s*:\s*(.+?)\s*$", re.I | re.M)


def _parse_text(text: str) -> Document:
    """Plain text; a line underlined with === or --- is a heading (as in reStructuredText/setext)."""
    subject = None
    m = _SUBJECT_LINE.match(text)
    if m:
        subject = m.group(1)
        text = text[m.end():]
    lines = text.splitlines()
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    buf: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        under = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and len(under) >= 3 and set(under) <= {"="} | {"-"} and len(set(under)) == 1:
            if buf:
                sections.append(_section("\n".join(buf), trail))
                buf = []
            level = 1 if under[0] == "=" else 2
            trail[:] = [t for t in trail if t[0] < level] + [(level, line.strip())]
            i += 2
            continue
        buf.append(line)
        i += 1
    if buf:
        sections.append(_section("\n".join(buf), trail))
    return Document(sections=sections, subject=subject)
