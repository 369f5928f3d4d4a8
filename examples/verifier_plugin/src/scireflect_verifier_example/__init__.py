"""Two example verifiers for scireflect, registered through the ``scireflect.verifiers`` entry-point group.

``KeywordVerifier`` subclasses :class:`Verifier` (one method, ``check``); ``states_unit`` uses the
``@verifier`` decorator for the simple case. Both are advisory (``required = False``): they add findings
for the critic without blocking acceptance.
"""

from __future__ import annotations

import re

from scireflect.schema import Attempt, Question, Verdict
from scireflect.tools.verifiers import Verifier, verifier

__all__ = ["KeywordVerifier", "states_unit"]


class KeywordVerifier(Verifier):
    """Does the solution use the concepts the question lists in ``metadata["keywords"]``?"""

    name = "keywords"
    description = "solution mentions the question's metadata keywords"
    types = ("numeric", "symbolic", "free")
    required = False

    def applies_to(self, question: Question) -> bool:
        return super().applies_to(question) and bool(question.metadata.get("keywords"))

    def check(self, question: Question, attempt: Attempt) -> Verdict:
        words = [str(w) for w in question.metadata.get("keywords", [])]
        text = attempt.solution.lower()
        missing = [w for w in words if w.lower() not in text]
        ok = not missing
        return Verdict(verifier=self.name, ok=ok, score=1 - len(missing) / len(words), reason="equal" if ok else "unequal",
                       message="all keywords used" if ok else f"solution never mentions: {', '.join(missing)}",
                       details={"missing": missing})


@verifier("states_unit", types=("numeric",), description="a numeric answer with a unit states one")
def states_unit(question: Question, attempt: Attempt) -> Verdict:
    """When the question has a unit, the final answer should state a unit too."""
    from scireflect.tools.extract import extract_answer

    answer = attempt.extracted_answer or extract_answer(attempt.solution) or ""
    expects_unit = bool(question.unit) or re.search(r"\d\s*\\?[,;!]?\s*[A-Za-zµΩ°\\]", question.answer)
    if not expects_unit:
        return Verdict(verifier="states_unit", ok=True, score=1.0, reason="equal", message="no unit expected")
    ok = bool(re.search(r"\d\s*\\?[,;!]?\s*(?:\\(?:mathrm|text)\{)?[A-Za-zµΩ°]", answer))
    return Verdict(verifier="states_unit", ok=ok, score=float(ok), reason="equal" if ok else "unequal",
                   message="the answer states a unit" if ok else "the answer is a bare number without a unit")


states_unit.required = False  # advisory, like KeywordVerifier
