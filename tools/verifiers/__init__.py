"""Verifiers: deterministic checks of an attempt (final answer, derivation steps, Lean proofs)."""

from __future__ import annotations

from scireflect.tools.verifiers.base import FunctionVerifier, Verifier, verifier
from scireflect.tools.verifiers.registry import (ENTRY_POINT_GROUP, VerifierRegistry, default_registry,
                                                 options_from_settings)

__all__ = ["Verifier", "FunctionVerifier", "verifier", "VerifierRegistry", "default_registry",
           "ENTRY_POINT_GROUP", "builtin_verifiers", "options_from_settings"]


def builtin_verifiers() -> list[type[Verifier]]:
    from scireflect.tools.verifiers.answer import AnswerVerifier
    from scireflect.tools.verifiers.lean import LeanVerifier
    from scireflect.tools.verifiers.steps import StepsVerifier

    return [AnswerVerifier, StepsVerifier, LeanVerifier]
