"""Quantities with units: LaTeX/plain-text unit notation turned into pint units (runs in pool workers).

``split_quantity`` separates the value from the unit text of an answer such as
``6.02\\times10^{23}\\ \\text{mol}^{-1}``, ``25\\ ^\\circ\\mathrm{C}``, ``\\SI{9.81}{\\metre\\per\\second\\squared}``
or ``3 meters per second``; ``parse_unit`` maps the unit text onto pint's registry (token by token, with
aliases for common spellings, so no arbitrary string reaches pint's own expression evaluator).
``parse_unit_spec`` reads the ``unit`` field of a question file (SciBench's LaTeX, with an optional
leading power of ten such as ``$10^{11} \\mathrm{~s}$``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from scireflect.tools.verifiers.numparse import SCALE_WORDS, superscripts

_TEXT_MACROS = re.compile(r"\\(?:mathrm|text|textnormal|textrm|mbox|operatorname|mathit|textit|rm|unit|si)\s*\{")
_SI_MACRO = re.compile(r"\\SI\s*\{([^{}]*)\}\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_SIUNITX = {
    "metre": "m", "meter": "m", "second": "s", "gram": "g", "kilogram": "kg", "kelvin": "K", "mole": "mol",
    "ampere": "A", "newton": "N", "joule": "J", "watt": "W", "pascal": "Pa", "hertz": "Hz", "volt": "V",
    "coulomb": "C", "ohm": "ohm", "litre": "L", "liter": "L", "electronvolt": "eV", "degreeCelsius": "degC",
    "kilo": "k", "mega": "M", "giga": "G", "milli": "m", "micro": "µ", "nano": "n", "pico": "p", "centi": "c",
    "minute": "min", "hour": "h", "day": "day", "radian": "rad", "degree": "deg", "angstrom": "Å",
    "tesla": "T", "farad": "F", "henry": "H", "siemens": "S", "becquerel": "Bq", "bar": "bar", "atm": "atm",
}
_SI_PREFIXES = {"kilo", "mega", "giga", "milli", "micro", "nano", "pico", "centi"}
_ALIASES = {
    "AU": "au", "KJ": "kJ", "Kg": "kg", "KW": "kW", "Kcal": "kcal", "kcals": "kcal", "cals": "cal",
    "sec": "s", "secs": "s", "hr": "h", "hrs": "h", "mins": "min", "yrs": "yr", "Ohm": "ohm", "ohms": "ohm",
    "°": "deg", "deg": "deg", "degrees": "deg", "degree": "deg", "liters": "L", "litres": "L", "litre": "L",
    "cc": "cm**3", "amu": "u", "Angstrom": "Å", "angstroms": "Å", "Å": "Å", "K": "K",
    # Spellings pint lacks: the torr's symbol is capitalised (Torr), SciBench writes "kPA" and "Year".
    "Torr": "torr", "kPA": "kPa", "Year": "year", "Years": "year",
}
# Single letters that pint knows but that in an answer are far more often words or variables.
_DENY = {"a", "b", "c", "d", "e", "f", "i", "j", "k", "l", "n", "o", "p", "q", "r", "t", "v", "w", "x", "y", "z",
         "and", "or", "is", "the", "of", "per", "to", "at", "it", "pi", "as", "an", "by", "for", "on"}
_VALUE = re.compile(
    r"^\s*(?P<v>[-+]?\s*(?:"
    r"\\[dtc]?frac\s*\{[^{}]*\}\s*\{[^{}]*\}"
    r"|(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:\s*(?:[eE][-+]?\d+(?![\w])|(?:\\times|\\cdot|×|x|\*)\s*10\s*(?:\^|\*\*)\s*"
    r"(?:\{\s*[-+]?\s*\d+\s*\}|[-+]?\d+)))?"
    r"|10\s*\^\s*(?:\{\s*[-+]?\d+\s*\}|[-+]?\d+)"
    r"))(?P<rest>.*)$", re.S)


@functools.lru_cache(maxsize=1)
def registry() -> Any:
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=False, cache_folder=None)


def _strip_macro_braces(s: str) -> str:
    """``\\mathrm{kJ\\,mol^{-1}}`` -> ``kJ\\,mol^{-1}`` (innermost first, nested braces kept balanced)."""
    for _ in range(20):
        m = _TEXT_MACROS.search(s)
        if not m:
            return s
        depth, i = 1, m.end()
        while i < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[i], 0)
            i += 1
        s = s[:m.start()] + " " + s[m.end():i - 1] + " " + s[i:]
    return s


def _siunitx(s: str) -> str:
    def unit(body: str) -> str:
        out, pending_per, prefix_pending = [], False, False
        for tok in re.findall(r"\\(\w+)|([^\\\s]+)", body):
            name = tok[0] or tok[1]
            if name == "per":
                pending_per = True
                continue
            if name in ("squared", "cubed"):
                if out:
                    out[-1] += "^2" if name == "squared" else "^3"
                continue
            sym = _SIUNITX.get(name, name)
            if prefix_pending:
                out[-1] += sym
            else:
                out.append(("/" if pending_per else "") + sym)
                pending_per = False
            prefix_pending = name in _SI_PREFIXES
        return " ".join(out).replace(" /", "/")

    return _SI_MACRO.sub(lambda m: f"{m.group(1)} {unit(m.group(2))}", s)


def normalize(text: str) -> str:
    """A quantity's text in one plain spelling: ``25\\ ^\\circ\\mathrm{C}`` -> ``25 degC``."""
    s = superscripts(text).replace("−", "-").replace("·", " * ").replace("⋅", " * ")
    s = re.sub(r"^\s*\$+|\$+\s*$", "", s.strip())
    s = s.replace("$", " ")
    s = _siunitx(s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("{,}", ",").replace(",\\!", ",")
    s = re.sub(r"\\mathring\s*\{?\s*A\s*\}?|\\AA\b|\\r\{A\}", "Å", s)
    s = re.sub(r"\{\s*\}\s*\^", "^", s)
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°|º", " deg ", s)
    s = _strip_macro_braces(s)
    s = re.sub(r"\\mu\s*", "µ", s).replace("μ", "µ")
    s = re.sub(r"\\Omega", "Ω", s)
    s = re.sub(r"\\[,;:>]|\\ |~|\\quad|\\qquad", " ", s)
    s = _pound_force(s)
    s = re.sub(r"\bdeg(?:ree)?s?\s+(?:C\b|Celsius\b|centigrade\b)", "degC", s, flags=re.I)
    s = re.sub(r"\bdeg(?:ree)?s?\s+(?:F\b|Fahrenheit\b)", "degF", s, flags=re.I)
    s = re.sub(r"\bdeg\s+F\b", "degF", s)
    s = re.sub(r"\bdeg\s+K\b", "K", s)  # the old "°K" is the kelvin
    s = re.sub(r"µ\s+(?=[A-Za-zΩ])", "µ", s)
    return re.sub(r"\s+", " ", s).strip()


# "ft-lb" (work, torque), "lb/in^2" (pressure) and "lb s/ft" (a damping constant) use the pound-force;
# pint's "lb" alone is the pound-mass, which would make 1838 ft-lb a dimension mismatch against joules.
_TIMES = r"\s*(?:-|\*|\\cdot|\s)\s*"
_FOOT_POUND = re.compile(rf"\b(?:ft|foot|feet){_TIMES}(?:lbs?|pounds?)\b(?![-\w])")
_PER_SQUARE_INCH = re.compile(r"\b(?:lbs?|pounds?)\s*(?:/\s*in\s*\^\s*\{?\s*2\s*\}?|in\s*\^\s*\{?\s*-\s*2\s*\}?)"
                              r"(?![\w^])")
_POUND_SECOND_PER_FOOT = re.compile(rf"\blbs?{_TIMES}s\s*/\s*ft\b")


def _pound_force(s: str) -> str:
    s = _FOOT_POUND.sub("ft lbf", s)
    s = _POUND_SECOND_PER_FOOT.sub("lbf s/ft", s)
    return _PER_SQUARE_INCH.sub("lbf/in^2", s)


@dataclass
class SplitQuantity:
    value: str
    unit: str


def split_quantity(text: str) -> SplitQuantity | None:
    """Value text and unit text of a normalized quantity; None when it does not start with a number."""
    s = normalize(text)
    s = re.sub(r"^(?:[A-Za-z]\w{0,3}(?:_\{?\w+\}?)?|\\[A-Za-z]+)\s*(?:=|\\approx|≈)\s*(?=[-+\d.\\])", "", s)
    m = _VALUE.match(s)
    if not m:
        return None
    unit = m.group("rest").strip().rstrip(".").strip()
    return SplitQuantity(m.group("v").strip(), unit)


def _tokens_to_pint(unit: str) -> str | None:
    """Unit text -> a pint unit expression built only from known unit names, ``*``, ``/``, ``**`` and
    parentheses; None when some token is not a unit."""
    s = unit.replace("\\cdot", "*").replace("\\times", "*").replace("×", "*")
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", s)
    s = re.sub(r"\bper\b", "/", s)
    s = re.sub(r"\bsquare\s+(\w+)", r"\1^2", s)
    s = re.sub(r"\bcubic\s+(\w+)", r"\1^3", s)
    s = re.sub(r"\^\s*\{\s*([-+]?\s*\d+(?:\.\d+)?)\s*\}|\^\s*\(\s*([-+]?\d+)\s*\)|\^\s*([-+]?\d+)",
               lambda m: "**" + (m.group(1) or m.group(2) or m.group(3)).replace(" ", ""), s)
    s = s.replace("{", " ").replace("}", " ").replace("\\", " ")
    out: list[str] = []
    prev_operand = False  # juxtaposed units multiply: "kg m s^-2" -> kg * m * s**-2
    for tok in re.findall(r"\*\*-?\d+(?:\.\d+)?|[A-Za-zµΩÅ°]+|[*/()]|\S", s):
        if tok.startswith("**"):
            if not prev_operand:
                return None
            out.append(tok)
        elif tok in ("*", "/"):
            out.append(tok)
            prev_operand = False
        elif tok == "(":
            out.extend(["*", "("] if prev_operand else ["("])
            prev_operand = False
        elif tok == ")":
            out.append(")")
            prev_operand = True
        elif re.fullmatch(r"[A-Za-zµΩÅ°]+", tok):
            name = _resolve_cached(tok)
            if name is None:
                return None
            out.extend(["*", name] if prev_operand else [name])
            prev_operand = True
        else:
            return None
    if not out:
        return None
    return "".join(out)


def _known(name: str, ureg: Any) -> bool:
    if name in _DENY:
        return False
    try:
        ureg.parse_units(name)
        return True
    except Exception:  # noqa: BLE001 - pint raises several types for unknown names
        return False


@functools.lru_cache(maxsize=4096)
def _resolve_cached(tok: str) -> str | None:
    ureg = registry()
    tok = _ALIASES.get(tok, tok)
    if _known(tok, ureg):
        return tok
    # Concatenated symbols as SciBench writes them: "JK" = J*K, "Nm" = N*m.
    for i in range(1, len(tok)):
        a, b = tok[:i], tok[i:]
        if len(a) <= 3 and len(b) <= 3 and _known(a, ureg) and _known(b, ureg) and len(a + b) <= 4:
            return f"{a}*{b}"
    return None


def parse_unit(unit_text: str) -> Any | None:
    """pint ``Unit`` for the unit text, or None when it is not (entirely) a unit."""
    if not unit_text or len(unit_text) > 120:
        return None
    if re.search(r"\\(?!cdot\b|times\b|frac\b)[A-Za-z]+", unit_text):
        return None  # "\pi", "\sqrt": maths, not a unit
    if re.search(r"\bdeg\s+[A-Z]\b", unit_text):
        return None  # "°N" is a temperature scale pint lacks (or a latitude), not degree times newton
    if re.match(r"^\s*/", unit_text):  # "6.022e23 /mol"
        unit_text = unit_text.strip()[1:]
        expr = _tokens_to_pint(unit_text)
        expr = f"1/({expr})" if expr else None
    elif re.search(r"[A-Za-z]{2,}\s+in\b|\bin\s+[A-Za-z]{2,}", unit_text):
        return None  # "in" inside a phrase is the preposition, not inches
    else:
        expr = _tokens_to_pint(unit_text)
    if expr is None:
        return None
    try:
        units = registry().parse_units(expr)
    except Exception:  # noqa: BLE001
        return None
    return units


def scale_word(unit_text: str) -> tuple[int, str]:
    """``million years`` -> (10**6, ``years``)."""
    m = re.match(r"^(thousand|million|billion|trillion)\b\s*", unit_text, re.IGNORECASE)
    if not m:
        return 1, unit_text
    return SCALE_WORDS[m.group(1).lower()], unit_text[m.end():]


def is_temperature(units: Any) -> bool:
    return str(units) in ("degree_Celsius", "degree_Fahrenheit", "kelvin", "degree_Rankine")


def to_kelvin_or_base(value: float, units: Any) -> tuple[float, Any]:
    """Magnitude in base units (kelvin for temperatures, offsets applied) and the dimensionality."""
    ureg = registry()
    q = ureg.Quantity(value, units)
    if is_temperature(units):
        return float(q.to("kelvin").magnitude), q.dimensionality
    base = q.to_base_units()
    return float(base.magnitude), q.dimensionality


# -- unit fields of question files ----------------------------------------------------------------
@dataclass(frozen=True)
class UnitSpec:
    """A question's ``unit`` field, read: ``$10^{-19} \\mathrm{~J}$`` -> factor 10**-19, text ``J``."""

    factor: Fraction
    """Numeric prefactor folded into the number (``10^{11}`` -> ``Fraction(10**11)``); 1 when none."""
    text: str
    """The unit part in a plain spelling ``parse_unit`` accepts (``kJ mol^-1``); "" when dimensionless
    (blank, a bare power of ten, a percent sign, a currency, a count such as "photons")."""
    units: Any
    """pint Unit, or None when the unit part is empty/dimensionless."""
    percent: bool = False
    """The unit string was a percent sign (``text`` is then "")."""


MAX_UNIT_SPEC_CHARS = 200
_MAX_EXPONENT = 400  # 10**400 is already far past any float; a bigger exponent is a typo, not a unit
_NO_UNIT = UnitSpec(Fraction(1), "", None)
_POWER_OF_TEN = re.compile(r"^(?:(?:\\times|×|\*)\s*)?10\s*\^\s*(?:\{\s*([-+]?)\s*(\d{1,4})\s*\}|([-+]?)(\d{1,4}))\s*")
# Things counted rather than measured: "10^{16} photons", "J / \alpha-particle", "J \cdot electron^{-1}".
# They carry no dimension, so they are dropped together with their exponent.
_COUNTED = re.compile(
    r"(?:\\alpha\s*-?\s*)?(?<![\\\w])(?:photons?|electrons?|particles?|molecules?|atoms?|times)\b"
    r"(?:\s*\^\s*(?:\{\s*[-+]?\d+\s*\}|[-+]?\d+))?")
# Unit vectors name a direction, not a dimension: "N \hat{i}" is a force in newtons.
_UNIT_VECTOR = re.compile(r"\\hat\s*(?:\{(?:[^{}]|\{[^{}]*\})*\}|[a-z])")
_CURRENCY = re.compile(r"^(?:\\?\$|dollars?|USD|€|£|¥)$")
# SciBench's "charge on the drop, in terms of $e$": a count of elementary charges, read as a bare number
# (pint's "e" is the charge itself, but "e" is far too common a letter to be a unit in answers).
_BARE_COUNTS = {"e"}


def parse_unit_spec(text: str | None) -> UnitSpec | None:
    """A unit string as question files write it (plain or LaTeX, with an optional leading power of ten).
    Returns UnitSpec(factor=1, text="", units=None) for blank/None; None when the string cannot be read."""
    if text is None:
        return _NO_UNIT
    if not isinstance(text, str) or len(text) > MAX_UNIT_SPEC_CHARS:
        return None
    try:
        return _unit_spec_cached(text)
    except Exception:  # noqa: BLE001 - total: a unit string that trips any parser is simply unreadable
        return None


@functools.lru_cache(maxsize=4096)
def _unit_spec_cached(text: str) -> UnitSpec | None:
    raw = _UNIT_VECTOR.sub(" ", text.replace("\r", " ").replace("\n", " ")).strip()
    body = re.sub(r"^\$|\$$", "", raw).strip()  # one pair of maths dollars; "\$" inside is the currency
    if not body or _CURRENCY.match(body):  # " $" and "$\$$" in SciBench: an amount in dollars
        return _NO_UNIT
    s = normalize(raw)
    factor, s = _leading_power_of_ten(s)
    if factor is None:
        return None
    scale, s = scale_word(s)
    factor *= scale
    s = s.strip().rstrip(";,.").strip()
    if re.fullmatch(r"\\?%|percent", s):
        return UnitSpec(factor, "", None, percent=True)
    s = re.sub(r"\belectron\s*-?\s*volts?\b", "eV", s)  # a unit, not a counted electron
    s = _drop_operators(_COUNTED.sub(" ", s))
    if not s or s in _BARE_COUNTS:
        return UnitSpec(factor, "", None)
    plain = _plain_unit(s)
    units = parse_unit(plain)
    if units is None:
        return None
    return UnitSpec(factor, plain, units)


def _leading_power_of_ten(s: str) -> tuple[Fraction | None, str]:
    """``10^{-19} J`` -> (Fraction(1, 10**19), ``J``); (1, s) without one; (None, s) for a huge exponent."""
    m = _POWER_OF_TEN.match(s.strip())
    if not m:
        return Fraction(1), s
    sign = m.group(1) if m.group(2) is not None else m.group(3)
    exp = int(m.group(2) or m.group(4))
    if exp > _MAX_EXPONENT:
        return None, s
    return Fraction(10) ** (-exp if sign == "-" else exp), s.strip()[m.end():]


def _drop_operators(s: str) -> str:
    """Operators left dangling once a counted word is gone: ``J \\cdot`` -> ``J``, ``J /`` -> ``J``."""
    op = r"(?:\\cdot|\\times|[*/×]|\bper\b)"
    for _ in range(4):
        s = re.sub(rf"^\s*(?:\\cdot|\\times|[*×])\s*|\s*{op}\s*$", "", s.strip())
        s = re.sub(rf"{op}\s*(?=/)", "", s)
    return re.sub(r"^per\b", "/", s.strip())  # "photons per second" -> "/ second"


def _plain_unit(s: str) -> str:
    """Normalised unit text in the plain spelling of the examples: ``kJ mol ^{-1}`` -> ``kJ mol^-1``."""
    s = re.sub(r"\s*\^\s*\{\s*([-+]?)\s*(\d+)\s*\}|\s*\^\s*([-+]?)\s*(\d+)",
               lambda m: "^" + (m.group(1) or m.group(3) or "").replace("+", "") + (m.group(2) or m.group(4)), s)
    s = re.sub(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", s)
    s = re.sub(r"\\cdot|\\times|[*×]|\\(?![A-Za-z])", " ", s).replace("{", " ").replace("}", " ")
    s = re.sub(r"\s*/\s*", "/", s)
    s = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", s))
    return re.sub(r"\s+", " ", s).strip()
