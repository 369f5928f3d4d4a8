"""The Verifier contract: small base class, one required method, total calls.

A verifier decides one thing about one attempt and explains it in a Verdict. ``verify`` is
total: whatever the attempt contains, it returns a Verdict (``reason="error"`` if the
implementation itself failed), so the graph never crashes on model output.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, ClassVar

from scireflect.schema import Attempt, Question, Verdict

log = logging.getLogger(__name__)


class Verifier:
    """Subclass and implement ``check``; set ``name`` and, if needed, ``applies_to``.

    ``required``: whether the trace may only be accepted when this verifier says ok
    (the ``steps`` verifier is advisory by default, see ``Settings.require_steps``).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    types: ClassVar[tuple[str, ...]] = ("numeric", "symbolic", "multiple_choice", "free")
    required: bool = True

    def __init__(self, **options: Any):
        self.options = options

    def applies_to(self, question: Question) -> bool:
        return question.type in self.types

    def check(self, question: Question, attempt: Attempt) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError

    def quick_check(self, question: Question, attempt: Attempt) -> Verdict | None:
        """Optional: the verdict when it can be reached without blocking or parsing model output (string
        comparisons, regular expressions), else None and ``check`` runs. The graph calls this on its event
        loop and sends only the undecided verifiers to a thread. Where it returns a verdict, it must be the
        one ``check`` would return."""
        return None

    def verify(self, question: Question, attempt: Attempt) -> Verdict:
        try:
            verdict = self.check(question, attempt)
        except Exception as e:  # noqa: BLE001 - the contract is "never raise into the graph"
            log.warning("verifier %s failed on question %s: %s", self.name, question.id, e)
            verdict = Verdict(verifier=self.name, ok=False, score=0.0, reason="error",
                              message=f"verifier {self.name} failed: {type(e).__name__}: {e}")
        return self._own(verdict)

    def quick_verify(self, question: Question, attempt: Attempt) -> Verdict | None:
        """``quick_check``, total: a failure in it means "undecided", and ``verify`` then runs."""
        try:
            verdict = self.quick_check(question, attempt)
        except Exception as e:  # noqa: BLE001 - the full check decides, and reports, a real failure
            log.debug("verifier %s quick check failed on question %s: %s", self.name, question.id, e)
            return None
        return None if verdict is None else self._own(verdict)

    def _own(self, verdict: Verdict) -> Verdict:
        if not verdict.verifier:
            verdict.verifier = self.name
        verdict.required = verdict.required and self.required
        return verdict


class FunctionVerifier(Verifier):
    """A verifier made from a plain function by :func:`verifier`."""

    def __init__(self, fn: Callable[[Question, Attempt], Verdict], name: str,
                 types: tuple[str, ...], description: str = "", **options: Any):
        super().__init__(**options)
        self._fn = fn
        self.name = name  # type: ignore[misc]
        self.types = types  # type: ignore[misc]
        self.description = description  # type: ignore[misc]

    def check(self, question: Question, attempt: Attempt) -> Verdict:
        return self._fn(question, attempt)


def verifier(name: str, types: tuple[str, ...] = ("numeric", "symbolic", "multiple_choice", "free"),
             description: str = "") -> Callable[[Callable[[Question, Attempt], Verdict]], type[Verifier]]:
    """Decorator for the simple case: turn ``fn(question, attempt) -> Verdict`` into a Verifier class."""

    def wrap(fn: Callable[[Question, Attempt], Verdict]) -> type[Verifier]:
        def __init__(self: FunctionVerifier, **options: Any) -> None:
            FunctionVerifier.__init__(self, fn, name, types, description or (fn.__doc__ or "").strip(),
                                      **options)

        cls = type(fn.__name__, (FunctionVerifier,), {"__init__": __init__, "name": name,
                                                      "types": types,
                                                      "description": description or (fn.__doc__ or "").strip()})
        return cls

    return wrap
