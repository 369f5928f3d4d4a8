"""Plain numbers as people and models write them, parsed with regular expressions and exact arithmetic.

No evaluation of any kind: a value is a ``Fraction`` (exact) plus a flag saying whether it was written
as a decimal (decimal point or scientific notation, which decides the tolerance rule). Handles thousands
separators (``7,425,000``, ``1 000``, ``40,\\!000``), decimal commas on request, ``.4``, e-notation,
``\\times 10^{n}``/``\\cdot 10^{n}``/``x10^n``/unicode superscripts, ``10^{n}``, simple ``\\frac{a}{b}``
and ``a/b``, mixed numbers, number words and "million", factorials ``5!`` and double factorials ``5!!``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

MAX_EXPONENT = 4000  # 10^4000 is still cheap as a Fraction; beyond that the symbolic path decides

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}
SCALE_WORDS = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}

_MANTISSA = r"(?:\d+(?:\.\d*)?|\.\d+)"
_EXP_TAIL = re.compile(
    r"^(?P<m>" + _MANTISSA + r")\s*(?:"
    r"[eE](?P<e1>[-+]?\d+)"
    r"|(?:\\times|\\cdot|×|·|\*|x|X)\s*10\s*(?:\^|\*\*)\s*(?:\{\s*(?P<e2>[-+]?\s*\d+)\s*\}|(?P<e3>[-+]?\d+))"
    r")$")
_POW10 = re.compile(r"^10\s*\^\s*(?:\{\s*(?P<e>[-+]?\s*\d+)\s*\}|(?P<f>[-+]?\d+))$")
_FRAC = re.compile(r"^\\[dtc]?frac\s*(?:\{\s*(?P<a>\d+)\s*\}|(?P<a1>\d))\s*(?:\{\s*(?P<b>\d+)\s*\}|(?P<b1>\d))$")
_SLASH = re.compile(r"^(?P<a>\d+)\s*/\s*(?P<b>\d+)$")
_MIXED = re.compile(r"^(?P<w>\d+)\s+(?P<a>\d+)\s*/\s*(?P<b>\d+)$")
_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?$")
_SPACE_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(?: \d{3})+(?:\.\d*)?$")
_DECIMAL_COMMA = re.compile(r"^\d+,\d+$")
# A postfix factorial (5!) or double factorial (5!!, the product 5*3*1): part of the number, never cut off.
_FACTORIAL = re.compile(r"^(?P<n>\d{1,6})\s*(?P<bangs>!{1,2})$")


@dataclass(frozen=True)
class Num:
    """A parsed number: exact value, whether it was written as a decimal, and a percent sign."""

    value: Fraction
    decimal: bool
    percent: bool = False
    text: str = ""

    @property
    def as_fraction(self) -> Fraction:
        """The value, with a percent sign applied (28% -> 0.28)."""
        return self.value / 100 if self.percent else self.value

    def __float__(self) -> float:
        return float(self.value)


def superscripts(text: str) -> str:
    """Unicode superscript exponents as LaTeX: ``10⁸`` -> ``10^{8}``, ``m/s²`` -> ``m/s^{2}``."""
    if not any(c in text for c in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺"):
        return text
    return re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^{" + m.group(0).translate(_SUPERSCRIPTS) + "}", text)


def clean(text: str) -> str:
    """LaTeX and typography noise removed; the number's meaning kept."""
    s = text.strip()
    s = s.replace("−", "-").replace("–", "-").replace("\u2009", " ").replace("\u00a0", " ")
    s = s.replace("{,}", ",").replace(",\\!", ",").replace("\\!", "").replace("\\,", " ").replace("\\ ", " ")
    s = s.replace("\\;", " ").replace("\\:", " ").replace("~", " ").replace("\\left", "").replace("\\right", "")
    s = re.sub(r"^\\\$|^\$+|\$+$|^\\\(|\\\)$|^\\\[|\\\]$", "", s).strip()
    s = re.sub(r"^\\\$", "", s).strip()
    s = s.rstrip(" ;,.")  # a sentence's full stop, not a decimal point
    return s


def _exp(text: str | None) -> int | None:
    if text is None:
        return None
    e = int(text.replace(" ", ""))
    return e if abs(e) <= MAX_EXPONENT else None


def _mantissa(text: str, decimal_comma: bool) -> tuple[Fraction, bool] | None:
    t = text.replace(" ", "") if _SPACE_THOUSANDS.match(text) else text
    if _THOUSANDS.match(t):
        t = t.replace(",", "")
    elif decimal_comma and _DECIMAL_COMMA.match(t):
        t = t.replace(",", ".")
    if not re.fullmatch(_MANTISSA, t):
        return None
    return Fraction(t), "." in t


def parse_number(text: str, *, decimal_comma: bool = False) -> Num | None:
    """A :class:`Num` when ``text`` is one plain number (optionally signed, percent, scaled); else None."""
    if not text or len(text) > 200:
        return None
    s = clean(superscripts(text))
    percent = False
    m = re.search(r"\s*(?:\\%|%|\s+percent(?:age)?|\s+pct)$", s)
    if m:
        percent, s = True, s[:m.start()].strip()
    sign = 1
    if s[:1] in "+-":
        sign, s = (-1 if s[0] == "-" else 1), s[1:].strip()
    if s.startswith("{") and s.endswith("}") and s.count("{") == 1:
        s = s[1:-1].strip()
    scale = 1
    m = re.search(r"\s+(thousand|million|billion|trillion)$", s, re.IGNORECASE)
    if m:
        scale, s = SCALE_WORDS[m.group(1).lower()], s[:m.start()].strip()
    num = _parse_unsigned(s, decimal_comma)
    if num is None:
        return None
    value, decimal = num
    return Num(sign * value * scale, decimal, percent, text)


def factorial_value(n: int, step: int = 1) -> int | None:
    """``n!`` (step 1) or ``n!!`` (step 2); None when it has more than MAX_EXPONENT digits (the symbolic
    path, with its own size guard, decides those)."""
    digits = math.lgamma(n + 1) / math.log(10) / step  # n!! is about sqrt(n!)
    if digits > MAX_EXPONENT:
        return None
    return math.factorial(n) if step == 1 else math.prod(range(n, 0, -2))


def _parse_unsigned(s: str, decimal_comma: bool) -> tuple[Fraction, bool] | None:
    if s.lower() in _WORDS:
        return Fraction(_WORDS[s.lower()]), False
    if "!" in s:
        m = _FACTORIAL.match(s)
        value = factorial_value(int(m.group("n")), len(m.group("bangs"))) if m else None
        return (Fraction(value), False) if value is not None else None
    m = _EXP_TAIL.match(s)
    if m:
        mant = _mantissa(m.group("m"), False)
        e = _exp(m.group("e1") or m.group("e2") or m.group("e3"))
        if mant is None or e is None:
            return None
        return mant[0] * Fraction(10) ** e, True
    m = _POW10.match(s)
    if m:
        e = _exp(m.group("e") or m.group("f"))
        return (Fraction(10) ** e, False) if e is not None else None
    m = _FRAC.match(s)
    if m:
        a, b = int(m.group("a") or m.group("a1")), int(m.group("b") or m.group("b1"))
        return (Fraction(a, b), False) if b else None
    m = _SLASH.match(s)
    if m:
        a, b = int(m.group("a")), int(m.group("b"))
        return (Fraction(a, b), False) if b else None
    m = _MIXED.match(s)
    if m:
        w, a, b = int(m.group("w")), int(m.group("a")), int(m.group("b"))
        return (w + Fraction(a, b), False) if b and a < b else None
    return _mantissa(s, decimal_comma)


def is_decimal_text(text: str) -> bool:
    """Rule 1 of the answer-equivalence rules: written with a decimal point or in scientific notation."""
    t = superscripts(text)
    return bool(re.search(r"\d\.\d|\d\.(?!\d)|(?<![\w\\])\.\d|\d\s*[eE][-+]?\d|(?:\\times|\\cdot|×|x)\s*10\s*\^", t))


def close(pred: Fraction | float, gold: Fraction | float, rel_tol: float, zero_abs_tol: float) -> bool:
    """``|pred - gold| <= rel_tol * |gold|``; against a zero gold ``|pred| <= zero_abs_tol``."""
    if gold == 0:
        return abs(pred) <= zero_abs_tol
    return abs(pred - gold) <= rel_tol * abs(gold)


_SUM = re.compile(r"^\s*[-+]?\s*(?:\d+(?:\.\d+)?)(?:\s*[-+]\s*(?:\d+(?:\.\d+)?))+\s*$")


def parse_sum(text: str) -> Num | None:
    """A plain chain of additions/subtractions of numbers (``1+1+...+1``), summed exactly."""
    if len(text) > 200_000 or not _SUM.match(text):
        return None
    total, decimal = Fraction(0), False
    for sign, digits in re.findall(r"([-+]?)\s*(\d+(?:\.\d+)?)", text.replace(" ", "")):
        total += Fraction(digits) * (-1 if sign == "-" else 1)
        decimal = decimal or "." in digits
    return Num(total, decimal, False, text[:50])
