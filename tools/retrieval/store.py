"""The Chroma side of retrieval: client (local files or a server), collection, and paged reads.

Local data lives in ``HOME/chroma/db``; the local index (BM25, vectors) beside it
in ``HOME/chroma/bm25/<key>``. Telemetry
is off. A server that does not answer is a ProviderError (exit code 2), raised before any model loads.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

from scireflect.errors import ConfigError, ProviderError, StoreError, missing_dependency

GENERATION_KEY = "scireflect_generation"
INDEX_FORMAT = 2  # of the local index folder (BM25, columns, vectors); another value means "rebuild"


def chroma_dir(settings) -> Path:
    return settings.path("chroma", "db", mkdir=False)


def index_key(settings) -> str:
    """Names the local BM25 index after the collection and, for a server, its URL."""
    if not settings.chroma_url:
        return settings.collection
    digest = hashlib.sha256(settings.chroma_url.rstrip("/").encode()).hexdigest()[:8]
    return f"{settings.collection}-{digest}"


def bm25_dir(settings) -> Path:
    return settings.path("chroma", "bm25", index_key(settings), mkdir=False)


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The BM25 index's manifest (format, generation, count), or None when absent or of another format."""
    try:
        m = json.loads((Path(directory) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or m.get("format") != INDEX_FORMAT or not isinstance(m.get("count"), int):
        return None
    return m


def _parse_url(url: str) -> tuple[str, int, bool]:
    u = urlparse(url if "://" in url else f"http://{url}")
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ConfigError(f"chroma_url '{url}' is not http://HOST:PORT")
    try:
        port = u.port or (443 if u.scheme == "https" else 8000)
    except ValueError as e:
        raise ConfigError(f"chroma_url '{url}' has a bad port") from e
    return u.hostname, port, u.scheme == "https"


def _check_server(url: str, timeout_s: float = 5.0) -> None:
    """One cheap heartbeat first, so an unreachable server gives one clear line, not a client traceback."""
    import httpx

    host, port, ssl = _parse_url(url)
    base = f"{'https' if ssl else 'http'}://{host}:{port}"
    try:
        r = httpx.get(f"{base}/api/v2/heartbeat", timeout=timeout_s)
    except httpx.HTTPError as e:
        raise ProviderError(f"Chroma server at {url} does not answer ({type(e).__name__}); "
                            f"start one with: chroma run --path DIR --port {port}", url=url) from e
    if r.status_code != 200:
        raise ProviderError(f"Chroma server at {url} answered HTTP {r.status_code} to a heartbeat "
                            "(is it a Chroma 1.x server?)", url=url, status=r.status_code)


def client(settings) -> Any:
    """A Chroma client for the settings: a server when ``chroma_url`` is set, else files in the workspace."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError as e:
        raise missing_dependency("chromadb", "retrieval") from e
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        _check_server(settings.chroma_url)
        host, port, ssl = _parse_url(settings.chroma_url)
        try:
            return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
        except Exception as e:
            raise ProviderError(f"Chroma server at {settings.chroma_url} refused the client: {e}",
                                url=settings.chroma_url) from e
    path = chroma_dir(settings)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as e:
        raise StoreError(f"cannot open Chroma data in {path}: {e}") from e


def get_collection(cl, settings) -> Any | None:
    """The existing collection, or None. Its embedding function is rebuilt from the stored config."""
    # Imported for its side effect: Chroma resolves the stored embedding function by its registered name.
    import scireflect.tools.retrieval.embeddings  # noqa: F401
    try:
        names = {c if isinstance(c, str) else c.name for c in cl.list_collections()}
    except Exception as e:
        raise StoreError(f"cannot list Chroma collections: {e}") from e
    if settings.collection not in names:
        return None
    try:
        return cl.get_collection(settings.collection, embedding_function=None)
    except Exception as e:
        raise StoreError(f"cannot open Chroma collection '{settings.collection}': {e}") from e


def create_collection(cl, settings, ef) -> Any:
    try:
        return cl.get_or_create_collection(settings.collection, embedding_function=ef,
                                           configuration={"hnsw": {"space": "cosine"}},
                                           metadata={GENERATION_KEY: uuid.uuid4().hex})
    except Exception as e:
        raise StoreError(f"cannot create Chroma collection '{settings.collection}': {e}") from e


def stored_embedding(collection) -> dict[str, Any] | None:
    """The embedding function config stored with the collection: ``{"name": ..., "config": {...}}``."""
    cfg = getattr(collection, "configuration_json", None) or {}
    ef = cfg.get("embedding_function")
    if not ef or ef.get("type") == "legacy":
        return None
    return {"name": ef.get("name"), "config": ef.get("config") or {}}


def collection_ef(collection, models: Any = None) -> Any:
    """The collection's own embedding function, built from its stored config (not from settings); a local
    model loads into ``models`` (an ``embeddings.ModelCache``) when one is given."""
    from scireflect.tools.retrieval import embeddings

    info = stored_embedding(collection)
    if info is None:
        raise ConfigError(f"collection '{collection.name}' has no named embedding function; it was not "
                          "created by scireflect ingest")
    cls = {embeddings.ST_NAME: embeddings.SentenceTransformerEmbedding,
           embeddings.OPENAI_NAME: embeddings.OpenAIEmbedding}.get(info["name"])
    if cls is None:
        raise ConfigError(f"collection '{collection.name}' uses embedding function '{info['name']}', "
                          "which scireflect does not provide")
    ef = cls.build_from_config(info["config"])
    if models is not None and isinstance(ef, embeddings.SentenceTransformerEmbedding):
        ef.models = models
    return ef


def generation(collection) -> str:
    return str((collection.metadata or {}).get(GENERATION_KEY, ""))


def bump_generation(collection) -> str:
    """Marks the collection as changed so every BM25 index built from an older state is rebuilt."""
    gen = uuid.uuid4().hex
    meta = {k: v for k, v in (collection.metadata or {}).items() if not k.startswith("hnsw:")}
    meta[GENERATION_KEY] = gen
    try:
        collection.modify(metadata=meta)
    except Exception as e:
        raise StoreError(f"cannot update collection '{collection.name}': {e}") from e
    return gen


def iter_all(collection, include: list[str], page: int = 5000) -> Iterator[dict[str, Any]]:
    """Every record, a page at a time, so a 100k-chunk collection is never held twice in memory."""
    offset = 0
    while True:
        try:
            batch = collection.get(include=include, limit=page, offset=offset)
        except Exception as e:
            raise StoreError(f"cannot read collection '{collection.name}': {e}") from e
        if not batch["ids"]:
            return
        yield batch
        offset += len(batch["ids"])
