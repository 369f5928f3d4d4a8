"""Generation backends: one interface over the chat providers (``llamacpp`` in-process, ``openai``
endpoints with N requests in flight) and the batched transformers backend (``hf``, in ``hf.py``).

A backend takes (item id, messages) jobs and calls ``on_done`` once per job, as each finishes, so the
runner can score and store results while the rest are still generating; ``activity()`` tells a
progress display, from any thread, what is in flight and for how long.
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from scireflect.cpu import default_threads
from scireflect.errors import ConfigError, ProviderError
from scireflect.settings import Settings

Message = dict[str, str]
Job = tuple[str, list[Message]]
PROVIDERS = ("llamacpp", "openai", "hf")


@dataclass
class Generation:
    text: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    error: str | None = None


OnDone = Callable[[str, Generation], None]


@dataclass(frozen=True)
class Activity:
    """What a backend is doing right now."""

    in_flight: int = 0  # requests sent and not answered; for hf, the rows of the batch being decoded
    oldest_s: float = 0.0  # how long the oldest of them has been waiting
    partial: float = 0.0  # item-equivalents of work already done on them (hf: tokens decoded / max tokens)


class Backend(ABC):
    provider: str = ""

    def activity(self) -> Activity:
        """What is in flight now; called from the progress display's thread, so it only reads."""
        return Activity()

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provider, model and generation options, stored with the run."""

    @abstractmethod
    def run(self, jobs: Sequence[Job], on_done: OnDone) -> None:
        """Generate every job, calling ``on_done(id, generation)`` as each one finishes."""


def _lc_messages(msgs: list[Message]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m["role"]](content=m["content"]) for m in msgs]


class ChatBackend(Backend):
    """``llamacpp`` or ``openai`` through ``scireflect.llm``: retries and error mapping come from there.

    Up to ``concurrency`` requests are in flight, spread round-robin over the configured endpoints;
    the in-process llama.cpp model serializes calls itself."""

    def __init__(self, settings: Settings, concurrency: int = 4):
        from scireflect.llm import chat_model, check_endpoint, endpoints, model_name

        if concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        self.settings, self.provider, self.concurrency = settings, settings.provider, concurrency
        self.urls = endpoints(settings)
        for url in self.urls:
            if url is not None:
                check_endpoint(url)
        self.models = [chat_model(settings, base_url=u) for u in self.urls]
        self.model_name = model_name(settings)
        self._lock = threading.Lock()
        self._sent: dict[int, float] = {}  # job index -> when its request was sent

    def describe(self) -> dict[str, Any]:
        s = self.settings
        out = {"provider": self.provider, "model": self.model_name, "endpoints": [u for u in self.urls if u],
               "temperature": s.temperature, "max_tokens": s.max_tokens, "seed": s.seed,
               "concurrency": self.concurrency}
        if self.provider == "llamacpp":
            out.update(model_path=s.model, threads=s.n_threads)
        return out

    def activity(self) -> Activity:
        now = time.monotonic()
        with self._lock:
            sent = list(self._sent.values())
        return Activity(in_flight=len(sent), oldest_s=now - min(sent) if sent else 0.0)

    def run(self, jobs: Sequence[Job], on_done: OnDone) -> None:
        if jobs:
            asyncio.run(self._run(jobs, on_done))

    async def _run(self, jobs: Sequence[Job], on_done: OnDone) -> None:
        from scireflect.llm import ainvoke_chat

        sem = asyncio.Semaphore(self.concurrency)

        async def one(i: int, item_id: str, msgs: list[Message]) -> None:
            k = i % len(self.models)
            async with sem:
                t0 = time.perf_counter()
                with self._lock:
                    self._sent[i] = time.monotonic()
                try:
                    r = await ainvoke_chat(self.models[k], _lc_messages(msgs), self.settings, url=self.urls[k])
                    gen = Generation(r.text, r.tokens_in, r.tokens_out, time.perf_counter() - t0)
                except ProviderError as e:
                    # One failed item must not lose the others; it is stored as an error and retried on rerun.
                    gen = Generation(latency_s=time.perf_counter() - t0, error=str(e))
                finally:
                    with self._lock:
                        self._sent.pop(i, None)
            on_done(item_id, gen)

        try:
            await asyncio.gather(*(one(i, item_id, msgs) for i, (item_id, msgs) in enumerate(jobs)))
        finally:
            for m in self.models:  # the lean HTTP model pools a session per event loop; close it with the loop
                if hasattr(m, "aclose"):
                    await m.aclose()


def make_backend(provider: str, settings: Settings, *, concurrency: int | None = None,
                 adapter: str | None = None) -> Backend:
    """The backend for a provider name; ``adapter`` (a PEFT folder) needs the ``hf`` provider.

    In-process models (``hf``, ``llamacpp``) use ``settings.n_threads`` CPU threads (``--threads``),
    by default :func:`default_threads`."""
    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")
    if provider != "openai" and not settings.n_threads:
        settings = settings.model_copy(update={"n_threads": default_threads()})
    if provider == "hf":
        from scireflect.evaluation.hf import HFBackend

        return HFBackend(settings, adapter=adapter, batch_size=concurrency or 8)
    if adapter:
        raise ConfigError("--adapter needs --provider hf (a LoRA adapter is applied to a transformers model); "
                          "for llamacpp or openai, merge it first with `scireflect train merge`")
    s = settings.model_copy(update={"provider": provider})
    return ChatBackend(s, concurrency=concurrency or (1 if provider == "llamacpp" else 4))
