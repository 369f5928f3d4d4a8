"""Hybrid retrieval: dense (Chroma HNSW) and lexical (BM25) candidates fused by reciprocal rank.

One Retriever holds one embedding model, one Chroma collection handle and one BM25 index; it is safe to
share between threads (the graph may answer several questions at once).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Literal

from scireflect.errors import InputError, StoreError
from scireflect.schema import Chunk
from scireflect.tools.retrieval import local_index, store

log = logging.getLogger("scireflect.retrieval")

Mode = Literal["hybrid", "dense", "bm25"]
FILTER_KEYS = ("subject", "source")
RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very first ranks
EXACT_MAX = 30_000  # filtered dense search scans at most this many vectors exactly (about 5 ms on one core)


def normalise_filters(filters: dict[str, Any] | None) -> dict[str, list[str]]:
    """``{"subject": "physics", "source": ["a.md", "b.pdf"]}`` -> lists of strings; unknown keys are errors."""
    out: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        if value is None or value == [] or value == "":
            continue
        if key not in FILTER_KEYS:
            raise InputError(f"unknown retrieval filter '{key}' (use: {', '.join(FILTER_KEYS)})")
        values = [value] if isinstance(value, str) else [str(v) for v in value]
        out[key] = [v.strip().lower() for v in values] if key == "subject" else values
    return out


def rrf(rankings: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k + rank), ranks from 1."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class Retriever:
    """``retrieve(query, k, filters) -> list[Chunk]`` over one ingested collection."""

    def __init__(self, collection: Any, ef: Any, index: local_index.LocalIndex, candidates: int = 30,
                 cache_size: int = 1024):
        self.collection = collection
        self.ef = ef
        self.index = index
        self.candidates = candidates
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    @classmethod
    def open(cls, settings, models: Any = None) -> "Retriever | None":
        """The retriever for the settings' collection, or None when it does not exist or is empty.

        ``models``: an ``embeddings.ModelCache`` to load the embedding model into (default: the retriever's
        own, so the model stays loaded for as long as the retriever is kept)."""
        cl = store.client(settings)
        col = store.get_collection(cl, settings)
        if col is None or col.count() == 0:
            return None
        ef = store.collection_ef(col, models=models)
        directory = store.bm25_dir(settings)
        index = local_index.LocalIndex.load(directory)
        if index is None or index.generation != store.generation(col) or len(index) != col.count():
            log.info("rebuilding the local retrieval index in %s", directory)
            index = build_index(col, directory)
        return cls(col, ef, index)

    def __len__(self) -> int:
        return len(self.index)

    def warmup(self) -> None:
        """Loads the embedding model now rather than on the first question."""
        self._embed("warm up")

    # Public API -------------------------------------------------------------------------------------
    def retrieve(self, query: str, k: int = 5, filters: dict | None = None) -> list[Chunk]:
        return self.search(query, k, filters, mode="hybrid")

    def search(self, query: str, k: int = 5, filters: dict | None = None, mode: Mode = "hybrid") -> list[Chunk]:
        if not query or not query.strip() or k < 1:
            return []
        flt = normalise_filters(filters)
        n = max(self.candidates, k)
        rankings = []
        if mode in ("hybrid", "dense"):
            rankings.append(self.dense(query, n, flt))
        if mode in ("hybrid", "bm25"):
            rankings.append([cid for cid, _ in self.index.search(query, n, flt)])
        fused = rrf(rankings)[:k]
        return self._chunks(fused)

    # Parts ------------------------------------------------------------------------------------------
    def dense(self, query: str, n: int, filters: dict[str, list[str]]) -> list[str]:
        vec = self._embed(query)
        if not filters:
            return self._hnsw(vec, n)
        allowed = self.index.allowed(filters)
        if allowed == 0:
            return []
        if self.index.vectors is not None and allowed <= EXACT_MAX:
            return [cid for cid, _ in self.index.dense(vec, n, filters)]
        # A broad filter: over-fetch from HNSW and keep what passes. Chroma's own `where` is avoided on
        # purpose: it takes hundreds of milliseconds at 100k chunks, even for a narrow filter.
        fetch = min(len(self.index), int(n * len(self.index) / allowed * 2) + n)
        return [cid for cid in self._hnsw(vec, fetch) if self.index.passes(cid, filters)][:n]

    def _hnsw(self, vec: Any, n: int) -> list[str]:
        try:
            res = self.collection.query(query_embeddings=[vec], n_results=n, include=["distances"])
        except Exception as e:
            raise StoreError(f"Chroma query failed: {e}") from e
        return list(res["ids"][0]) if res["ids"] else []

    def _embed(self, query: str) -> Any:
        # Repeated queries (the critic re-asking the solver's question) skip the model.
        with self._cache_lock:
            if query in self._cache:
                self._cache.move_to_end(query)
                return self._cache[query]
        vec = self.ef([query])[0]
        with self._cache_lock:
            self._cache[query] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def _chunks(self, fused: list[tuple[str, float]]) -> list[Chunk]:
        if not fused:
            return []
        ids = [cid for cid, _ in fused]
        try:
            got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        except Exception as e:
            raise StoreError(f"Chroma read failed: {e}") from e
        rows = {cid: (doc, meta or {}) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}
        out = []
        for cid, score in fused:
            if cid not in rows:  # deleted since the BM25 index was built
                continue
            doc, meta = rows[cid]
            out.append(Chunk(id=cid, text=doc or "", source=str(meta.get("source", "")),
                             page=meta.get("page"), section=meta.get("section"),
                             subject=meta.get("subject") or None, score=round(score, 6)))
        return out


def build_index(collection: Any, directory) -> local_index.LocalIndex:
    """Re-reads every chunk from Chroma and writes a fresh local index tagged with the collection's generation."""
    gen = store.generation(collection)

    def records():
        for batch in store.iter_all(collection, include=["documents", "metadatas", "embeddings"]):
            vectors = batch.get("embeddings")
            if vectors is None:
                vectors = [None] * len(batch["ids"])
            for cid, doc, meta, vec in zip(batch["ids"], batch["documents"], batch["metadatas"], vectors):
                yield cid, doc or "", meta or {}, vec

    index = local_index.LocalIndex.build(records(), gen)
    index.save(directory)
    return index
