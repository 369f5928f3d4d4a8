"""Run-scoped dependencies handed to every node through LangGraph's runtime context."""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from scireflect.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class GraphContext:
    """Everything a node needs besides the state. Built once per run by the Pipeline."""

    settings: Settings
    models: list[tuple[BaseChatModel, str | None]]  # (chat model, endpoint URL) used round-robin
    traces: Any  # scireflect.store.TraceStore
    registry: Any  # scireflect.tools.verifiers.VerifierRegistry
    retriever: Any = None  # scireflect.tools.retrieval.Retriever | None
    gate: Any = None  # scireflect.training.gate.QualityGate | None
    model_name: str | None = None
    _rr: Any = field(default_factory=itertools.count, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def pick_model(self) -> tuple[BaseChatModel, str | None]:
        with self._lock:
            i = next(self._rr)
        return self.models[i % len(self.models)]
