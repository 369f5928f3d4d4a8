"""The student prompt: what a model trained on the export is asked, and what ``scireflect eval`` asks it.

One pair of templates (``training/prompts/student.system.jinja``, ``student.user.jinja``; a folder named by
the ``student_prompts_dir`` setting overrides either) renders both, so training and test prompts are the same
text, with the answer convention of the solver and reviser prompts: the final line is
``The answer is \\boxed{...}`` with the unit inside the box. Passages appear only when the student gets them;
otherwise their citations are taken out of the training target (``student_completion``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from jinja2 import Environment, StrictUndefined, TemplateSyntaxError, meta

from scireflect.errors import ConfigError
from scireflect.schema import Chunk, Question
from scireflect.settings import Settings

FILES = ("student.system.jinja", "student.user.jinja")
# Every template gets all of these (None or empty when they do not apply), so an override may use any of them.
PLACEHOLDERS = frozenset({"question", "choices", "unit", "chunks", "style"})
STYLES = ("cot", "direct")


def _env() -> Environment:
    return Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class StudentTemplates:
    """The two template texts, where each came from, and their digest."""

    system: str
    user: str
    origins: tuple[str, str]

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name, text in zip(FILES, (self.system, self.user)):
            h.update(name.encode() + b"\0" + text.encode() + b"\0")
        return h.hexdigest()[:12]

    def render(self, **values: Any) -> tuple[str, str]:
        return _compiled(self.system).render(**values).strip(), _compiled(self.user).render(**values).strip()


@lru_cache(maxsize=64)
def _compiled(source: str) -> Any:
    return _env().from_string(source)


def _checked(text: str, origin: str) -> str:
    """The template text, or a one-line ConfigError naming the file (syntax error or unknown placeholder)."""
    try:
        used = meta.find_undeclared_variables(_env().parse(text))
    except TemplateSyntaxError as e:
        raise ConfigError(f"student prompt {origin}: template syntax error on line {e.lineno}: {e.message}") from None
    unknown = used - PLACEHOLDERS
    if unknown:
        raise ConfigError(f"student prompt {origin} uses unknown placeholders: {', '.join(sorted(unknown))} "
                          f"(allowed: {', '.join(sorted(PLACEHOLDERS))})")
    return text


def _packaged(name: str) -> str:
    try:
        return resources.files("scireflect.training").joinpath("prompts", name).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"student prompt missing from the package: training/prompts/{name}") from e


def _stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    return tuple((n, (folder / n).stat().st_mtime_ns) for n in FILES if (folder / n).is_file())


def load_templates(settings: Settings | None = None) -> StudentTemplates:
    """The packaged templates, each replaced by its namesake in ``settings.student_prompts_dir`` if there."""
    folder = settings.student_prompts_dir if settings is not None else None
    if folder is None:
        return _load(None, ())
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"student_prompts_dir {folder} is not a folder")
    stamp = _stamp(folder)
    if not stamp:
        raise ConfigError(f"student_prompts_dir {folder} holds neither {FILES[0]} nor {FILES[1]}")
    return _load(str(folder), stamp)


@lru_cache(maxsize=32)
def _load(folder: str | None, stamp: tuple[tuple[str, int], ...]) -> StudentTemplates:
    # Keyed by the files' mtimes: an export renders one prompt per record, and an edited file is read again.
    texts, origins = [], []
    for name in FILES:
        path = Path(folder, name) if folder else None
        if path is not None and path.is_file():
            try:
                text, origin = path.read_text(encoding="utf-8"), str(path)
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"cannot read student prompt {path}: {e}") from e
        else:
            text, origin = _packaged(name), f"training/prompts/{name}"
        texts.append(_checked(text, origin))
        origins.append(origin)
    return StudentTemplates(system=texts[0], user=texts[1], origins=(origins[0], origins[1]))


def student_unit(question: Question) -> str | None:
    """The unit the student is told to answer in (SciBench keeps its LaTeX unit in metadata)."""
    unit = question.metadata.get("unit_latex") if question.metadata.get("format") == "scibench" else question.unit
    return (str(unit).strip() or None) if unit else None


def student_prompt(question: Question, *, passages: Sequence[Chunk] | None = None,
                   settings: Settings | None = None, style: str = "cot") -> tuple[str, str]:
    """The system and user text of the student prompt; ``style`` "direct" is eval's answer-only variant."""
    if style not in STYLES:
        raise ConfigError(f"unknown prompt style {style!r}; choose one of: {', '.join(STYLES)}")
    chunks = [{"id": c.id, "text": c.text, "source": c.source, "page": c.page} for c in (passages or [])]
    return load_templates(settings).render(question=question.question, choices=question.choices or [],
                                           unit=student_unit(question), chunks=chunks, style=style)


def student_messages(question: Question, *, passages: Sequence[Chunk] | None = None,
                     settings: Settings | None = None) -> list[dict[str, str]]:
    """system + user messages of the student prompt (no assistant turn).

    ``settings`` names an override folder (``student_prompts_dir``); None means the packaged templates.
    """
    system, user = student_prompt(question, passages=passages, settings=settings)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --- citations ---------------------------------------------------------------------------------
# Chunk ids are 32 hex digits (tools/retrieval/chunking.py); short ids like c3 appear in tests and hand-made
# indexes. A bare "(c1)" is left alone (a concentration, a constant); brackets or a cue word mark a citation.
_HEX = r"[0-9a-f]{32}"
_ID = rf"(?:{_HEX}|c\d{{1,4}})"
_CUE = r"(?:sources?|passages?|refs?|references?|see|cf\.|cited)"
_IDS = rf"{_ID}(?:\s*(?:,|;|and|&)\s*\[?{_ID}\]?)*"
_BRACKETED = re.compile(rf"[ \t]*\[(?:{_CUE}[:\s]\s*)?{_IDS}\](?:[ \t]*(?:,|;|and)?[ \t]*\[{_IDS}\])*",
                        re.IGNORECASE)
_PARENTHESISED = re.compile(rf"[ \t]*\((?:{_CUE}[:\s]\s*(?:\[{_IDS}\]|{_IDS})|\[{_IDS}\]|{_HEX})\)", re.IGNORECASE)
_CUED = re.compile(rf"\b(?:the\s+)?(?:textbook\s+)?passages?\s+(?:\[{_IDS}\]|{_IDS}\b)", re.IGNORECASE)
_SOURCE_LINE = re.compile(rf"^[ \t]*(?:sources?|references?|citations?|cited)[ \t]*:?[ \t]*"
                          rf"(?:\[?{_IDS}\]?[ \t,;.]*)+$\n?",
                          re.IGNORECASE | re.MULTILINE)


def student_completion(solution: str, *, keep_citations: bool) -> str:
    """The solution as training target: passage-id citations ("[c3]", "(source: c1)" - whatever the solver prompt asks
    for) removed unless the student will also get the passages."""
    text = solution.strip()
    if keep_citations:
        return text
    text = _SOURCE_LINE.sub("", text)
    text = _CUED.sub("the textbook", text)  # "as passage [c1] states" -> "as the textbook states"
    text = _PARENTHESISED.sub("", text)
    text = _BRACKETED.sub("", text)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)  # "56 m/s [c1]." -> "56 m/s."
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
