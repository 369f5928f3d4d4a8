"""BM25 over the collection's chunks (bm25s), persisted next to Chroma and rebuilt only when it changes.

The corpus is tokenized once, at build time; a query only tokenizes itself and sums the precomputed
per-token score columns (bm25s' eager sparse index), so query time grows with the posting lists of the
query's words, not with re-reading the corpus. Subject/source filters are boolean masks, cached.
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


class LexicalIndex:
    """A bm25s index plus, per row, the chunk id and the fields filters match on."""

    def __init__(self, bm25: Any, ids: np.ndarray, columns: dict[str, np.ndarray], generation: str):
        self.bm25 = bm25
        self.ids = ids
        self.columns = columns
        self.generation = generation
        self.vocab: dict[str, int] = bm25.vocab_dict
        self._masks: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    # Build, save, load ------------------------------------------------------------------------------
    @classmethod
    def build(cls, records: Iterable[tuple[str, str, dict[str, Any]]], generation: str) -> "LexicalIndex":
        """From (id, text, metadata) triples; texts are tokenized here, once."""
        bm25s = _bm25s()
        vocab: dict[str, int] = {}
        corpus: list[list[int]] = []
        ids: list[str] = []
        cols: dict[str, list[str]] = {f: [] for f in FILTER_FIELDS}
        for cid, text, meta in records:
            ids.append(cid)
            corpus.append([vocab.setdefault(t, len(vocab)) for t in tokenize(text)])
            for f in FILTER_FIELDS:
                cols[f].append(str((meta or {}).get(f) or ""))
        bm25 = bm25s.BM25()
        if ids:
            bm25.index((corpus, vocab), show_progress=False)
        else:
            bm25.vocab_dict = {}
        columns = {f: np.asarray(v, dtype=str) for f, v in cols.items()}
        return cls(bm25, np.asarray(ids, dtype=str), columns, generation)

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
            (tmp / "manifest.json").write_text(json.dumps(
                {"format": INDEX_FORMAT, "generation": self.generation, "count": int(len(self.ids))}))
            old = directory.with_name(directory.name + f".old{os.getpid()}")
            if directory.exists():
                directory.rename(old)
            tmp.rename(directory)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"cannot write the BM25 index to {directory}: {e}") from e

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex | None":
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
        except (OSError, ValueError, KeyError) as e:
            raise StoreError(f"the BM25 index in {directory} is damaged ({e}); run scireflect ingest again") from e
        return cls(bm25, ids, cols, m["generation"])

    # Query ------------------------------------------------------------------------------------------
    def mask(self, filters: dict[str, list[str]] | None) -> np.ndarray | None:
        """A 0/1 weight per row for the filters (AND across fields, OR within one); cached per filter."""
        if not filters:
            return None
        key = tuple(sorted((f, tuple(sorted(v))) for f, v in filters.items()))
        with self._lock:
            if key in self._masks:
                return self._masks[key]
        m = np.ones(len(self.ids), dtype=np.float32)
        for field, values in filters.items():
            if field == "source":  # a source filter matches the stored path or the bare file name
                hit = np.isin(self.columns["source"], values) | np.isin(self.columns["filename"], values)
            else:
                hit = np.isin(self.columns[field], values)
            m *= hit
        with self._lock:
            if len(self._masks) > 256:
                self._masks.clear()
            self._masks[key] = m
        return m

    def search(self, query: str, n: int, filters: dict[str, list[str]] | None = None) -> list[tuple[str, float]]:
        """The top ``n`` (chunk id, BM25 score) pairs with a positive score."""
        if not len(self.ids):
            return []
        tok_ids = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not tok_ids:
            return []
        scores = self.bm25.get_scores_from_ids(tok_ids, weight_mask=self.mask(filters))
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(str(self.ids[i]), float(scores[i])) for i in top if scores[i] > 0]


def _bm25s():
    try:
        import bm25s
    except ImportError as e:
        raise missing_dependency("bm25s", "retrieval") from e
    return bm25s
