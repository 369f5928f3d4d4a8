"""Tools the agents use: verifiers, answer extraction, retrieval. Never imports agents or graph."""

from __future__ import annotations

from typing import Any

from scireflect.schema import Verdict

__all__ = ["verify_answer", "averify_answer", "extract_answer"]


def verify_answer(pred: str, gold: str, **options: Any) -> Verdict:
    """Is ``pred`` the same answer as ``gold``? Total: always returns a Verdict, never raises."""
    from scireflect.tools.verifiers.answer import verify_answer as _verify

    return _verify(pred, gold, **options)


async def averify_answer(pred: str, gold: str, **options: Any) -> Verdict:
    """:func:`verify_answer` for asyncio code."""
    from scireflect.tools.verifiers.answer import averify_answer as _averify

    return await _averify(pred, gold, **options)


def extract_answer(text: str) -> str | None:
    from scireflect.tools.extract import extract_answer as _extract

    return _extract(text)
