"""Agent base class: render the agent's prompt from its inputs, call the chat model, return the text.

An agent is a prompt plus a way to build its inputs; subclasses set ``name``, ``prompt`` and
``inputs`` and implement ``build(**kwargs) -> dict`` (the one required method).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from scireflect.agents.prompts import PromptPair, load_prompt
from scireflect.llm import ChatReply, ainvoke_chat, invoke_chat
from scireflect.schema import Chunk, Question
from scireflect.settings import Settings


@dataclass
class AgentOutput:
    text: str
    messages: list[dict[str, str]]
    tokens_in: int = 0
    tokens_out: int = 0
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def chunk_view(chunks: list[Chunk] | None) -> list[dict[str, Any]]:
    return [{"id": c.id, "text": c.text, "source": c.source, "page": c.page} for c in (chunks or [])]


def question_view(q: Question) -> dict[str, Any]:
    """What every agent may see of a question: never its reference answer or unit."""
    return {"question": q.question, "choices": q.choices or []}


class Agent:
    name: ClassVar[str] = ""
    prompt: ClassVar[str] = ""
    inputs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self.template: PromptPair = load_prompt(self.prompt, self.inputs)

    def build(self, **kwargs: Any) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def messages(self, **kwargs: Any) -> list[BaseMessage]:
        system, user = self.template.render(**self.build(**kwargs))
        return [SystemMessage(content=system), HumanMessage(content=user)]

    @staticmethod
    def _output(msgs: list[BaseMessage], reply: ChatReply) -> AgentOutput:
        return AgentOutput(text=reply.text, tokens_in=reply.tokens_in, tokens_out=reply.tokens_out,
                           model=reply.model, extra={"attempts": reply.attempts},
                           messages=[{"role": {"system": "system", "human": "user"}.get(m.type, m.type),
                                      "content": str(m.content)} for m in msgs])

    def run(self, model: BaseChatModel, settings: Settings, url: str | None = None, **kwargs: Any) -> AgentOutput:
        msgs = self.messages(**kwargs)
        return self._output(msgs, invoke_chat(model, msgs, settings, url))

    async def arun(self, model: BaseChatModel, settings: Settings, url: str | None = None,
                   **kwargs: Any) -> AgentOutput:
        msgs = self.messages(**kwargs)
        return self._output(msgs, await ainvoke_chat(model, msgs, settings, url))
