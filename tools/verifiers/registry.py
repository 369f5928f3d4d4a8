"""Allow-list registry of verifiers: built-ins plus the ``scireflect.verifiers`` entry-point group."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from scireflect.errors import VerifierError
from scireflect.schema import Question
from scireflect.tools.verifiers.base import Verifier

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "scireflect.verifiers"


class VerifierRegistry:
    """Maps names to Verifier classes. Built from built-ins and installed plugins; no import by dotted path."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Verifier]] = {}
        self._origin: dict[str, str] = {}
        self.load_errors: dict[str, str] = {}

    def register(self, cls: type[Verifier], origin: str = "builtin") -> type[Verifier]:
        if not cls.name:
            raise VerifierError(f"verifier class {cls.__name__} has no name")
        self._classes[cls.name] = cls
        self._origin[cls.name] = origin
        return cls

    def names(self) -> list[str]:
        return sorted(self._classes)

    def origin(self, name: str) -> str:
        return self._origin[name]

    def get(self, name: str) -> type[Verifier]:
        try:
            return self._classes[name]
        except KeyError:
            raise VerifierError(f"unknown verifier {name!r}; available: {', '.join(self.names())}") from None

    def create(self, name: str, **options: Any) -> Verifier:
        return self.get(name)(**options)

    def load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except Exception as e:  # noqa: BLE001 - a broken plugin must not break the others
                self.load_errors[ep.name] = f"{type(e).__name__}: {e}"
                log.warning("verifier plugin %s failed to load: %s", ep.name, e)
                continue
            if not (isinstance(obj, type) and issubclass(obj, Verifier)):
                self.load_errors[ep.name] = "entry point is not a Verifier subclass"
                continue
            if not obj.name:
                obj.name = ep.name  # type: ignore[misc]
            self.register(obj, origin=f"plugin:{ep.value}")

    def for_question(self, question: Question, names: list[str] | None = None,
                     options: dict[str, dict[str, Any]] | None = None) -> list[Verifier]:
        """The verifiers to run on ``question``: those named (or all registered) that apply to it."""
        options = options or {}
        chosen = names if names is not None else self.names()
        out = []
        for name in chosen:
            v = self.create(name, **options.get(name, {}))
            if v.applies_to(question):
                out.append(v)
        return out


def default_registry(plugins: bool = True) -> VerifierRegistry:
    """A fresh registry with the built-in verifiers and, unless disabled, installed plugins."""
    from scireflect.tools.verifiers import builtin_verifiers

    reg = VerifierRegistry()
    for cls in builtin_verifiers():
        reg.register(cls)
    if plugins:
        reg.load_entry_points()
    return reg


def options_from_settings(settings: Any) -> dict[str, dict[str, Any]]:
    """Per-verifier options from the run's settings, for ``for_question(..., options=...)``.

    ``tolerance`` is the default relative tolerance for decimal golds (a question's own ``tolerance``
    still wins); ``verifier_timeout_s`` bounds every check; ``require_steps`` makes ``steps`` required.
    """
    timeout = float(getattr(settings, "verifier_timeout_s", 5.0))
    return {
        "answer": {"rel_tol": float(getattr(settings, "tolerance", 0.01)), "timeout_s": timeout},
        "steps": {"require_steps": bool(getattr(settings, "require_steps", False)), "timeout_s": timeout},
        "lean": {"timeout_s": max(timeout, float(getattr(settings, "lean_timeout_s", 60.0)))},
    }
