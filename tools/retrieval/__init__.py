"""Textbook retrieval: ingest books into Chroma with offline embeddings; hybrid dense + BM25 search.

The graph calls ``open_retriever(settings)`` once per run and ``retriever.retrieve(query, k, filters)``
per question. Importing this package is cheap: Chroma, bm25s and torch load only when an index exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scireflect.tools.retrieval import store

if TYPE_CHECKING:
    from scireflect.tools.retrieval.retriever import Retriever

__all__ = ["Retriever", "open_retriever"]


def open_retriever(settings, models=None) -> "Retriever | None":
    """The workspace's retriever, or None when retrieval is off or nothing has been ingested.

    The None answer costs one small file read (no Chroma, no model), so runs without textbooks stay
    fast. With ``chroma_url`` set the server is asked, since the collection may have been filled elsewhere.
    The embedding model loads once per retriever (or per ``models``, an ``embeddings.ModelCache``), so keep
    the retriever to query repeatedly.
    """
    if not settings.retrieval:
        return None
    if not settings.chroma_url:
        manifest = store.read_manifest(store.bm25_dir(settings))
        if manifest is not None and manifest["count"] == 0:
            return None
        if manifest is None and not (store.chroma_dir(settings) / "chroma.sqlite3").exists():
            return None
    from scireflect.tools.retrieval.retriever import Retriever

    return Retriever.open(settings, models=models)


def __getattr__(name: str):
    if name == "Retriever":
        from scireflect.tools.retrieval.retriever import Retriever

        return Retriever
    raise AttributeError(name)
