"""Split sections into token-bounded, overlapping chunks with content-hash ids.

"Tokens" here are words and punctuation marks (a regex, no model needed). all-MiniLM-L6-v2 reads at most
256 word pieces; the default of 200 such tokens stays under that for ordinary prose.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from scireflect.tools.retrieval.loaders import Section

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass
class Piece:
    """A chunk before it is stored: the text that is embedded and indexed, and where it came from."""

    text: str
    section: str | None
    page: int | None
    ordinal: int = 0


def chunk_sections(sections: list[Section], max_tokens: int = 200, overlap: int = 40) -> list[Piece]:
    """Chunks never cross a section (or PDF page); each starts with its heading trail for context."""
    if overlap >= max_tokens:
        overlap = max_tokens // 4
    pieces: list[Piece] = []
    for sec in sections:
        title = " > ".join(sec.path)
        budget = max(8, max_tokens - count_tokens(title))
        for body in _pack(_units(sec.text, budget), budget, overlap):
            text = f"{title}\n{body}" if title else body
            pieces.append(Piece(text=text, section=sec.heading, page=sec.page, ordinal=len(pieces)))
    return pieces


def _units(text: str, budget: int) -> list[tuple[str, int, bool]]:
    """Sentences as (text, tokens, starts_paragraph); sentences over budget are cut into windows."""
    units = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        first = True
        for sent in _SENTENCE_END.split(para):
            if not sent:
                continue
            n = count_tokens(sent)
            if n <= budget:
                units.append((sent, n, first))
            else:
                for window in _windows(sent, budget):
                    units.append((window, count_tokens(window), first))
                    first = False
            first = False
    return units


def _windows(sent: str, budget: int) -> list[str]:
    spans = [m.span() for m in _TOKEN.finditer(sent)]
    out = []
    for start in range(0, len(spans), budget):
        part = spans[start:start + budget]
        out.append(sent[part[0][0]:part[-1][1]])
    return out


def _pack(units: list[tuple[str, int, bool]], budget: int, overlap: int) -> list[str]:
    """Greedy packing; each new chunk repeats trailing sentences of the previous one up to ``overlap``."""
    chunks: list[str] = []
    cur: list[int] = []
    size = 0
    i = 0
    while i < len(units):
        n = units[i][1]
        if cur and size + n > budget:
            chunks.append(_join(units, cur))
            back: list[int] = []
            kept = 0
            for j in reversed(cur[1:]):  # never repeat the whole chunk, so packing always advances
                if kept + units[j][1] > overlap or kept + units[j][1] + n > budget:
                    break
                back.insert(0, j)
                kept += units[j][1]
            cur, size = back, kept
        cur.append(i)
        size += n
        i += 1
    if cur:
        chunks.append(_join(units, cur))
    return chunks


def _join(units: list[tuple[str, int, bool]], idx: list[int]) -> str:
    out = ""
    for pos, j in enumerate(idx):
        text, _, para = units[j]
        out += text if pos == 0 else ("\n\n" if para else " ") + text
    return out


def chunk_id(key: str, piece: Piece, subject: str | None) -> str:
    """Content hash: the same file path, metadata and text always give the same id."""
    h = hashlib.sha256()
    for part in (key, subject or "", piece.section or "", str(piece.page or ""), piece.text):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:32]
