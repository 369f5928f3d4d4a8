"""Options of the ``answer`` verifier: every rule of the answer-equivalence README can be changed.

Defaults are the README's rules. Precedence when the graph builds them: a question's own ``tolerance``
(applies to every gold) > the verifier options passed in (e.g. ``{"answer": {"rel_tol": 0.05}}``) >
these defaults. ``preset="scibench"`` reproduces SciBench's own grading (5% relative, units stripped).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from scireflect.errors import VerifierError

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # SciBench's eval: math.isclose(rel_tol=0.05) on the numbers, units stripped.
    "scibench": {"rel_tol": 0.05, "tolerance": 0.05, "units": False},
    # Strict: exact golds and 1% decimals, but a bare number never borrows the gold's unit.
    "strict_units": {"bare_number_in_gold_unit": False},
}


@dataclass
class AnswerOptions:
    rel_tol: float = 0.01
    """Rule 1: relative tolerance for a gold written as a decimal (decimal point or scientific notation)."""
    exact_rel_tol: float = 1e-6
    """Rule 2: an exact (integer/fraction) gold against a decimal approximation: floating-point noise only."""
    zero_abs_tol: float = 1e-12
    """Rule 2: absolute tolerance when the gold is zero."""
    tolerance: float | None = None
    """A per-problem relative tolerance that applies to every gold, exact ones included."""
    exact_golds: bool = True
    """Rule 2 on/off: when off, exact golds also get ``rel_tol``."""
    units: bool = True
    """Rule 3: convert units with pint and check dimensions; off: units are stripped (SciBench style)."""
    temperature_offsets: bool = True
    """Rule 4: °C/°F/K converted with their offsets, relative error on the kelvin scale."""
    bare_number_in_gold_unit: bool = True
    """Rule 5: a pred without a unit is read in the gold's unit; off: it is a dimension mismatch."""
    ignore_pred_unit_if_gold_unitless: bool = True
    """Rule 6: a gold without a unit compares magnitudes only; off: a pred unit makes it unequal."""
    percent_as_fraction: bool = True
    """Percent: against a gold with %, 0.28 equals 28%; against a gold 0.28, 28% equals it too."""
    choices: list[str] | None = None
    """Multiple choice: the option texts (A, B, ... in order); a gold may be a letter or an option text."""
    multiple_choice: str = "auto"
    """auto: letter golds are compared as choices; on: always; off: never."""
    decimal_comma: bool = True
    """Read ``2,74`` as 2.74 when the other side is a decimal number (never for lists like ``-2,1``)."""
    math_verify: bool = True
    """Use math-verify for symbolic answers (off: numbers, units and choices only)."""
    timeout_s: float = 5.0
    """Wall-clock limit of one check; the worker is killed and replaced when it is exceeded."""
    max_chars: int = 200_000
    """Longer pred or gold texts are refused (``too_large``) without parsing."""
    max_answer_chars: int = 20_000
    """Longer extracted answers are refused (``too_large``)."""
    screen: bool = True
    """Refuse answers containing Python-like code (``__``, ``lambda x:``, ``import``) before any parsing."""
    preset: str | None = None
    """A named bundle of the options above: ``default``, ``scibench``, ``strict_units``."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, **options: Any) -> "AnswerOptions":
        """From keyword options; unknown names are a configuration error."""
        options = {k: v for k, v in options.items() if v is not None or k in ("tolerance", "choices")}
        preset = options.pop("preset", None)
        base: dict[str, Any] = {}
        if preset is not None:
            if preset not in PRESETS:
                raise VerifierError(f"unknown answer preset {preset!r}; choose from {', '.join(PRESETS)}")
            base.update(PRESETS[preset])
        names = {f.name for f in dataclasses.fields(cls)} - {"extra", "preset"}
        unknown = sorted(set(options) - names)
        if unknown:
            raise VerifierError(f"unknown answer option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        base.update(options)
        opts = cls(**base, preset=preset)
        if opts.rel_tol < 0 or opts.exact_rel_tol < 0 or (opts.tolerance is not None and opts.tolerance < 0):
            raise VerifierError("answer tolerances must be >= 0")
        if opts.multiple_choice not in ("auto", "on", "off"):
            raise VerifierError("answer option multiple_choice must be auto, on or off")
        return opts

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
