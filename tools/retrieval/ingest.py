"""Ingest textbook files into the Chroma collection and refresh the BM25 index.

Chunk ids are content hashes, so re-ingesting an unchanged file adds nothing, a changed file swaps only
the chunks that changed, and ``prune`` removes the chunks of files that no longer exist. A file that
cannot be read is skipped with one line; the rest is still ingested.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from scireflect.errors import ConfigError, InputError, ProviderError, StoreError
from scireflect.tools.retrieval import chunking, loaders, store

EMBED_BATCH = 64
Progress = Callable[[str, int], None]  # (event, amount): "files" total/advance, "chunks" advance


@dataclass
class IngestReport:
    files: int = 0
    new_files: int = 0
    updated_files: int = 0
    unchanged_files: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    pruned_files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    total_chunks: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.skipped

    def as_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        return d


@dataclass
class _File:
    path: Path
    source: str  # shown to users and matched by the source filter
    folder_subject: str | None  # first folder under the directory that was named on the command line


def discover(paths: list[Path], report: IngestReport) -> list[_File]:
    """Files to ingest: named files as they are, folders walked recursively (hidden entries ignored)."""
    found: list[_File] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if not f.is_file() or any(part.startswith(".") for part in rel.parts):
                    continue
                found.append(_File(f, rel.as_posix(), rel.parts[0].lower() if len(rel.parts) > 1 else None))
        elif p.is_file():
            found.append(_File(p, p.name, None))
        else:
            report.skipped.append((str(p), "no such file or directory"))
    return found


def open_for_ingest(settings, models: Any = None) -> tuple[Any, Any]:
    """(collection, embedding function); refuses to mix vectors of two different models in one collection."""
    from scireflect.tools.retrieval import embeddings

    cl = store.client(settings)  # an unreachable server fails here, before the model loads
    ef = embeddings.embedding_function(settings, models=models)
    col = store.get_collection(cl, settings)
    if col is None:
        return store.create_collection(cl, settings, ef), ef
    stored = store.stored_embedding(col)
    wanted = {"name": ef.name(), "config": ef.get_config()}
    if stored is None or stored["name"] != wanted["name"] or not embeddings.same_embedding(
            stored["config"], wanted["config"]):
        raise ConfigError(f"collection '{settings.collection}' holds vectors from {stored}; the settings ask for "
                          f"{wanted}. Use another --collection, or delete {store.chroma_dir(settings)} to start over")
    return col, ef


def ingest(paths: list[Path], settings, subject: str | None = None, prune: bool = False,
           progress: Progress | None = None, models: Any = None) -> IngestReport:
    from scireflect.tools.retrieval.retriever import build_index

    t0 = time.perf_counter()
    report = IngestReport()
    files = discover([Path(p) for p in paths], report)
    col, ef = open_for_ingest(settings, models=models)
    if progress:
        progress("files_total", len(files))
    for f in files:
        report.files += 1
        try:
            _ingest_file(f, col, ef, settings, subject, report, progress)
        except InputError as e:
            report.skipped.append((str(f.path), e.reason))
        if progress:
            progress("files", 1)
    if prune:
        _prune(col, report)
    changed = report.chunks_added or report.chunks_removed
    directory = store.bm25_dir(settings)
    manifest = store.read_manifest(directory)
    if changed or manifest is None or manifest.get("generation") != store.generation(col):
        if changed:
            store.bump_generation(col)
        build_index(col, directory)
    report.total_chunks = col.count()
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _ingest_file(f: _File, col, ef, settings, subject: str | None, report: IngestReport,
                 progress: Progress | None) -> None:
    doc = loaders.load(f.path)
    subj = (subject or doc.subject or f.folder_subject or "").strip().lower()
    pieces = chunking.chunk_sections(doc.sections, settings.chunk_tokens, settings.chunk_overlap)
    key = str(f.path.resolve())
    ids, metas = [], []
    seen: set[str] = set()
    for piece in pieces:
        cid = chunking.chunk_id(key, piece, subj)
        while cid in seen:  # the same passage twice in one section: keep both, with distinct ids
            cid = hashlib.sha256((cid + "#").encode()).hexdigest()[:32]
        seen.add(cid)
        ids.append(cid)
        meta = {"source": f.source, "path": key, "filename": f.path.name, "subject": subj,
                "ordinal": piece.ordinal}
        if piece.section:
            meta["section"] = piece.section
        if piece.page is not None:
            meta["page"] = piece.page
        if doc.meta.get("title"):
            meta["title"] = doc.meta["title"]
        metas.append(meta)
    existing = set(_ids_where(col, {"path": key}))
    stale = sorted(existing - set(ids))
    fresh = [i for i, cid in enumerate(ids) if cid not in existing]
    for start in range(0, len(fresh), EMBED_BATCH):
        batch = fresh[start:start + EMBED_BATCH]
        texts = [pieces[i].text for i in batch]
        try:
            vectors = ef(texts)
            col.add(ids=[ids[i] for i in batch], embeddings=vectors, documents=texts,
                    metadatas=[metas[i] for i in batch])
        except (ConfigError, StoreError, ProviderError):
            raise
        except Exception as e:
            raise StoreError(f"cannot add chunks of {f.path} to Chroma: {e}") from e
        if progress:
            progress("chunks", len(batch))
    if stale:
        _delete(col, stale)
    report.chunks_added += len(fresh)
    report.chunks_removed += len(stale)
    if not existing:
        report.new_files += 1
    elif fresh or stale:
        report.updated_files += 1
    else:
        report.unchanged_files += 1


def _ids_where(col, where: dict) -> list[str]:
    try:
        return list(col.get(where=where, include=[])["ids"])
    except Exception as e:
        raise StoreError(f"cannot read Chroma collection: {e}") from e


def _delete(col, ids: list[str]) -> None:
    try:
        for start in range(0, len(ids), 5000):
            col.delete(ids=ids[start:start + 5000])
    except Exception as e:
        raise StoreError(f"cannot delete chunks from Chroma: {e}") from e


def _prune(col, report: IngestReport) -> None:
    """Removes the chunks of every ingested file that no longer exists on disk."""
    by_path: dict[str, list[str]] = {}
    for batch in store.iter_all(col, include=["metadatas"]):
        for cid, meta in zip(batch["ids"], batch["metadatas"]):
            by_path.setdefault(str((meta or {}).get("path", "")), []).append(cid)
    for path, ids in sorted(by_path.items()):
        if path and not Path(path).exists():
            _delete(col, ids)
            report.pruned_files.append(path)
            report.chunks_removed += len(ids)
