"""The workspace-side index beside Chroma: BM25 (bm25s), filter columns, and a copy of the vectors.

Rebuilt only when the collection changes, and persisted. The corpus is tokenized once, at build time. A
query tokenizes only itself and sums the precomputed per-token score columns (bm25s' eager sparse index).

Rows are sorted by (subject, source). A subject or source filter is then a few contiguous row ranges. Dense
search under a filter is an exact dot product over those slices of the vector copy (views of a
memory-mapped file, nothing is copied). Chroma's own ``where`` filter takes hundreds of milliseconds at
100k chunks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from scireflect.errors import StoreError, missing_dependency
from scireflect.tools.retrieval.store import INDEX_FORMAT, read_manifest

FILTER_FIELDS = ("subject", "source", "filename")

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("""a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have
having he her here hers him his how i if in into is it its itself just me more most my no nor not now of off
on once only or other our out over own same she should so some such than that the their them then there these
they this those through to too under until up very was we were what when where which while who whom why will
with would you your""".split())


def _stem(w: str) -> str:
    # A light plural stemmer (Harman's S-stemmer): "forces" ~ "force", "batteries" ~ "battery". Queries and
    # chunks go through the same function, so an odd stem ("series" -> "sery") still matches itself.
    if len(w) > 4 and w.endswith("ies") and not w.endswith(("eies", "aies")):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("es") and not w.endswith(("aes", "ees", "oes", "ses", "ies")):
        return w[:-1]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("us", "ss", "is")):
        return w[:-1]
    return w


def tokenize(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


Record = tuple[str, str, dict[str, Any], Any]  # (chunk id, text, metadata, vector or None)


class LocalIndex:
    """BM25 plus, per row, the chunk id, the fields filters match on, and (optionally) its vector."""

    def __init__(self, bm25: Any, ids: np.ndarray, columns: dict[str, np.ndarray], generation: str,
                 vectors: np.ndarray | None = None):
        self.bm25 = bm25
        self.ids = ids
        self.columns = columns
        self.generation = generation
        self.vectors = vectors
        self.vocab: dict[str, int] = bm25.vocab_dict
        self._filters: dict[tuple, tuple[np.ndarray, list[tuple[int, int]]]] = {}
        self._row_of: dict[str, int] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    # Build, save, load ------------------------------------------------------------------------------
    @classmethod
    def build(cls, records: Iterable[Record], generation: str) -> "LocalIndex":
        """From (id, text, metadata, vector) records; texts are tokenized here, once."""
        bm25s = _bm25s()
        rows = sorted(records, key=lambda r: (str((r[2] or {}).get("subject") or ""),
                                              str((r[2] or {}).get("source") or ""),
                                              int((r[2] or {}).get("ordinal") or 0), r[0]))
        vocab: dict[str, int] = {}
        corpus = [[vocab.setdefault(t, len(vocab)) for t in tokenize(text)] for _, text, _, _ in rows]
        bm25 = bm25s.BM25()
        if rows:
            bm25.index((corpus, vocab), show_progress=False)
        else:
            bm25.vocab_dict = {}
        columns = {f: np.asarray([str((r[2] or {}).get(f) or "") for r in rows], dtype=str) for f in FILTER_FIELDS}
        vectors = None
        if rows and all(r[3] is not None for r in rows):
            vectors = np.asarray([r[3] for r in rows], dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)  # cosine = dot
        return cls(bm25, np.asarray([r[0] for r in rows], dtype=str), columns, generation, vectors)

    def save(self, directory: Path) -> None:
        """Written to a temporary folder and swapped in, so a reader never sees half an index."""
        directory = Path(directory)
        tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            if len(self.ids):
                self.bm25.save(str(tmp), show_progress=False)
            np.save(tmp / "ids.npy", self.ids, allow_pickle=False)
            for f, col in self.columns.items():
                np.save(tmp / f"col_{f}.npy", col, allow_pickle=False)
            if self.vectors is not None:
                np.save(tmp / "vectors.npy", self.vectors, allow_pickle=False)
            (tmp / "manifest.json").write_text(json.dumps(
                {"format": INDEX_FORMAT, "generation": self.generation, "count": int(len(self.ids))}))
            old = directory.with_name(directory.name + f".old{os.getpid()}")
            if directory.exists():
                directory.rename(old)
            tmp.rename(directory)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"cannot write the retrieval index to {directory}: {e}") from e

    @classmethod
    def load(cls, directory: Path) -> "LocalIndex | None":
        """The saved index, or None when there is none (or it is from another format)."""
        m = read_manifest(directory)
        if m is None:
            return None
        bm25s = _bm25s()
        try:
            if m["count"]:
                bm25 = bm25s.BM25.load(str(directory), mmap=False, show_progress=False)
            else:
                bm25 = bm25s.BM25()
                bm25.vocab_dict = {}
            ids = np.load(directory / "ids.npy", allow_pickle=False)
            cols = {f: np.load(directory / f"col_{f}.npy", allow_pickle=False) for f in FILTER_FIELDS}
            vec_file = directory / "vectors.npy"
            # Memory-mapped: the OS pages in only the slices that filtered queries touch.
            vectors = np.load(vec_file, mmap_mode="r", allow_pickle=False) if vec_file.exists() else None
        except (OSError, ValueError, KeyError) as e:
            raise StoreError(f"the retrieval index in {directory} is damaged ({e}); run scireflect ingest again") from e
        return cls(bm25, ids, cols, m["generation"], vectors)

    # Filters ----------------------------------------------------------------------------------------
    def _filter(self, filters: dict[str, list[str]]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """(0/1 weight per row, contiguous row ranges that pass); AND across fields, OR within one; cached."""
        key = tuple(sorted((f, tuple(sorted(v))) for f, v in filters.items()))
        with self._lock:
            if key in self._filters:
                return self._filters[key]
        m = np.ones(len(self.ids), dtype=np.float32)
        for field, values in filters.items():
            if field == "source":  # a source filter matches the stored path or the bare file name
                hit = np.isin(self.columns["source"], values) | np.isin(self.columns["filename"], values)
            else:
                hit = np.isin(self.columns[field], values)
            m *= hit
        edges = np.flatnonzero(np.diff(np.concatenate(([0], (m > 0).astype(np.int8), [0]))))
        runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
        with self._lock:
            if len(self._filters) > 256:
                self._filters.clear()
            self._filters[key] = (m, runs)
        return m, runs

    def mask(self, filters: dict[str, list[str]] | None) -> np.ndarray | None:
        return self._filter(filters)[0] if filters else None

    def allowed(self, filters: dict[str, list[str]]) -> int:
        return sum(b - a for a, b in self._filter(filters)[1])

    def passes(self, cid: str, filters: dict[str, list[str]]) -> bool:
        if self._row_of is None:
            row_of = {str(c): i for i, c in enumerate(self.ids)}
            with self._lock:
                self._row_of = row_of
        row = self._row_of.get(cid)
        return row is not None and bool(self._filter(filters)[0][row])

    # Query ------------------------------------------------------------------------------------------
    def search(self, query: str, n: int, filters: dict[str, list[str]] | None = None) -> list[tuple[str, float]]:
        """BM25: the top ``n`` (chunk id, score) pairs with a positive score."""
        if not len(self.ids):
            return []
        tok_ids = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not tok_ids:
            return []
        scores = self.bm25.get_scores_from_ids(tok_ids, weight_mask=self.mask(filters))
        return [(str(self.ids[i]), float(scores[i])) for i in _top(scores, n) if scores[i] > 0]

    def dense(self, vector: Any, n: int, filters: dict[str, list[str]]) -> list[tuple[str, float]]:
        """Exact cosine search over the rows that pass the filters (the caller checks ``vectors`` exists)."""
        q = np.asarray(vector, dtype=np.float32)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        ids, sims = [], []
        for a, b in self._filter(filters)[1]:
            ids.append(self.ids[a:b])
            # einsum runs on this thread; BLAS gemv would wake its thread pool, which stalls when the cores
            # are shared (measured 10x slower p95 under load).
            sims.append(np.einsum("ij,j->i", self.vectors[a:b], q))
        if not sims:
            return []
        all_ids, all_sims = np.concatenate(ids), np.concatenate(sims)
        return [(str(all_ids[i]), float(all_sims[i])) for i in _top(all_sims, n)]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(scores))
    top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    return top[np.argsort(-scores[top], kind="stable")]


def _bm25s():
    try:
        import bm25s
    except ImportError as e:
        raise missing_dependency("bm25s", "retrieval") from e
    return bm25s
