"""Values of the claim evaluator (:mod:`arith`): a number or pint quantity with the absolute uncertainty of
its written digits, and the operations on them, each propagating the uncertainty to first order. Anything
that is not a finite real, or that mixes a plain number into a quantity where that is no reading we trust,
raises :class:`NotArithmetic` (the claim is then unchecked). Runs in pool workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

MAX_EXPONENT = 400
MAX_FACTORIAL = 1000


class NotArithmetic(Exception):
    """The text is not a closed arithmetic expression this evaluator handles."""


@dataclass
class Val:
    """A value and the absolute uncertainty of its magnitude (0 for exact integers)."""

    x: Any  # Fraction | float | pint Quantity
    err: float = 0.0
    cancelled: bool = False  # a plain number left when units cancelled ("2.40 min^-1 / 15.3 min^-1")


def is_q(x: Any) -> bool:
    return hasattr(x, "magnitude")


def is_offset(q: Any) -> bool:
    return is_q(q) and str(q.units) in ("degree_Celsius", "degree_Fahrenheit")


def as_float(x: Any) -> Any:
    return float(x) if isinstance(x, Fraction) else x


def mag(x: Any) -> float:
    return float(x.magnitude) if is_q(x) else float(x)


def plain(v: Val) -> Val:
    """The argument of a function must be a plain number: units inside ``e^{..}`` or ``\\ln(..)`` are a reading
    we do not trust (a slipped power of ten there changes the value by orders of magnitude)."""
    if is_q(v.x) or v.cancelled:
        raise NotArithmetic("units inside a function")
    return v


def guard(x: Any) -> Any:
    m = mag(x)
    if math.isinf(m) or math.isnan(m):
        raise NotArithmetic("not a finite real")
    return x


def result(x: Any, err: float, *inputs: Val) -> Val:
    """A value from an operation; units that cancelled exactly leave a plain (but marked) number."""
    x = guard(x)
    cancelled = any(v.cancelled for v in inputs)
    if is_q(x) and str(x.units) == "dimensionless":
        return Val(float(x.magnitude), err, True)
    return Val(x, err, cancelled)


def add(a: Val, b: Val) -> Val:
    try:
        if is_q(a.x) or is_q(b.x):
            if not (is_q(a.x) and is_q(b.x)):
                zero = b if not is_q(b.x) else a
                if mag(zero.x) != 0 or zero.err:
                    raise NotArithmetic("number plus quantity")
                return a if is_q(a.x) else b  # "16.0 J + 0"
            s = a.x + b.x
            factor = float((1.0 * b.x.units).to(s.units).magnitude)
            fa = float((1.0 * a.x.units).to(s.units).magnitude)
            return result(s, a.err * abs(fa) + b.err * abs(factor), a, b)
        if isinstance(a.x, Fraction) and isinstance(b.x, Fraction):
            return result(a.x + b.x, a.err + b.err, a, b)
        return result(float(a.x) + float(b.x), a.err + b.err, a, b)
    except NotArithmetic:
        raise
    except Exception as e:  # noqa: BLE001 - pint: dimensionality or offset errors
        raise NotArithmetic(type(e).__name__) from None


def neg(a: Val) -> Val:
    return Val(-a.x, a.err, a.cancelled)


def mul(a: Val, b: Val) -> Val:
    try:
        if is_q(a.x) or is_q(b.x):
            x = as_float(a.x) * as_float(b.x)
        elif isinstance(a.x, Fraction) and isinstance(b.x, Fraction):
            x = a.x * b.x
        else:
            x = float(a.x) * float(b.x)
    except Exception as e:  # noqa: BLE001 - pint: offset units
        raise NotArithmetic(type(e).__name__) from None
    return result(x, abs(mag(b.x)) * a.err + abs(mag(a.x)) * b.err, a, b)


def div(a: Val, b: Val) -> Val:
    bm = mag(b.x)
    if bm == 0:
        raise NotArithmetic("division by zero")
    try:
        if is_q(a.x) or is_q(b.x):
            x = as_float(a.x) / as_float(b.x)
        elif isinstance(a.x, Fraction) and isinstance(b.x, Fraction):
            x = a.x / b.x
        else:
            x = float(a.x) / float(b.x)
    except Exception as e:  # noqa: BLE001
        raise NotArithmetic(type(e).__name__) from None
    return result(x, a.err / abs(bm) + abs(mag(a.x)) * b.err / bm ** 2, a, b)


def exp_value(e: Val) -> Any:
    return int(e.x) if isinstance(e.x, Fraction) and e.x.denominator == 1 else float(e.x)


def power(a: Val, b: Val) -> Val:
    if is_q(b.x):
        raise NotArithmetic("quantity exponent")
    n = float(b.x)
    if abs(n) > MAX_EXPONENT:
        raise NotArithmetic("exponent too large")
    am = mag(a.x)
    if is_q(a.x):
        if am < 0 and not float(n).is_integer():
            raise NotArithmetic("root of a negative quantity")
        try:
            x = a.x ** exp_value(b)
        except Exception as e:  # noqa: BLE001
            raise NotArithmetic(type(e).__name__) from None
    elif isinstance(a.x, Fraction) and isinstance(b.x, Fraction) and b.x.denominator == 1:
        if abs(a.x.numerator).bit_length() * abs(b.x.numerator) > 20_000 or \
                abs(a.x.denominator).bit_length() * abs(b.x.numerator) > 20_000:
            raise NotArithmetic("result too large")
        if a.x == 0 and b.x < 0:
            raise NotArithmetic("division by zero")
        x = a.x ** int(b.x)
    else:
        if am < 0 and not n.is_integer():
            raise NotArithmetic("root of a negative number")
        if am == 0 and n < 0:
            raise NotArithmetic("division by zero")
        try:
            x = float(a.x) ** n
            if isinstance(a.x, Fraction) and isinstance(b.x, Fraction):
                perfect = perfect_root(a.x, b.x)
                x = perfect if perfect is not None else x
        except (OverflowError, ZeroDivisionError) as e:
            raise NotArithmetic(str(e)) from None
        if isinstance(x, complex):
            raise NotArithmetic("not a real")
    xm = mag(guard(x))
    err = abs(xm) * abs(n) * a.err / abs(am) if am else 0.0
    if b.err and am > 0:
        err += abs(xm) * abs(math.log(am)) * b.err
    return result(x, err, a, b)


def perfect_root(a: Fraction, b: Fraction) -> Fraction | None:
    """Exact value of ``a ** b`` for ``\\sqrt{16}`` or ``8^{2/3}``, so integer claims stay exact."""
    if a < 0 or b.denominator > 12 or abs(b.numerator) > 12 or a.numerator.bit_length() > 200:
        return None
    num = round(a.numerator ** (1 / b.denominator))
    den = round(a.denominator ** (1 / b.denominator))
    for n in (num - 1, num, num + 1):
        for d in (den - 1, den, den + 1):
            if n >= 0 and d > 0 and Fraction(n, d) ** b.denominator == a:
                return Fraction(n, d) ** b.numerator
    return None


def exp(v: Val) -> Val:
    v = plain(v)
    x = float(v.x)
    if x > 700:
        raise NotArithmetic("overflow")
    r = math.exp(x)
    return Val(r, r * v.err)


def log(v: Val, base: float) -> Val:
    x = float(v.x)
    if x <= 0:
        raise NotArithmetic("logarithm of a non-positive number")
    scale = math.log(base)
    return Val(math.log(x) / scale, v.err / x / scale)


def trig(name: str, v: Val) -> Val:
    x = float(v.x)
    if abs(x) > 1e6:
        raise NotArithmetic("angle too large")
    if name == "\\sin":
        return Val(math.sin(x), abs(math.cos(x)) * v.err + 1e-15)
    if name == "\\cos":
        return Val(math.cos(x), abs(math.sin(x)) * v.err + 1e-15)
    c = math.cos(x)
    if abs(c) < 1e-12:
        raise NotArithmetic("tan at a pole")
    return Val(math.tan(x), v.err / c ** 2)


def inverse_trig(name: str, v: Val) -> Val:
    x = float(v.x)
    if name in ("\\arcsin", "\\arccos") and abs(x) > 1:
        raise NotArithmetic("out of domain")
    f = {"\\arcsin": math.asin, "\\arccos": math.acos, "\\arctan": math.atan}[name]
    if name == "\\arctan":
        d = 1 / (1 + x * x)
    else:
        d = 1 / math.sqrt(max(1e-12, 1 - x * x))
    from scireflect.tools.verifiers import units

    return Val(units.registry().Quantity(f(x), "radian"), d * v.err)


def integer(v: Val, what: str) -> int:
    if is_q(v.x) or not isinstance(v.x, Fraction) or v.x.denominator != 1 or v.x < 0:
        raise NotArithmetic(f"{what} of a non-integer")
    if v.x > MAX_FACTORIAL:
        raise NotArithmetic(f"{what} too large")
    return int(v.x)


def factorial(v: Val) -> Val:
    return Val(Fraction(math.factorial(integer(v, "factorial"))))


def binom(n: Val, k: Val) -> Val:
    return Val(Fraction(math.comb(integer(n, "binomial"), integer(k, "binomial"))))
