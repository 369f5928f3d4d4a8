"""Checking extracted derivation claims ``lhs = rhs`` (runs in pool workers).

A claim is *wrong* only when both sides are closed numbers (or quantities with units) read without doubt
and they disagree beyond tolerance. The tolerance is what the written digits allow (``0.41`` stands for
0.405..0.415, propagated through the arithmetic) plus ``rel_tol`` for constants and intermediate results
rounded differently; a claim of integers only is checked exactly. Everything that looks like a false
equality in a correct worked solution is *unchecked*, never wrong: symbolic sides, a unit on one side
only, percentages on one side only, a unit conversion note (``1 J = 1 N m``), units that may be variables
or misread (``2 m`` in LaTeX, ``ms``), a disagreement by an exact power of ten (a unit prefix or notation
slip), and dimensions that differ while the numbers agree (a slip in a unit).
"""

from __future__ import annotations

import math
from typing import Any

from scireflect.tools.verifiers import arith

# Slack beyond the written digits: worked solutions round constants and intermediate results and carry
# unrounded values forward; a slip that matters is rarely within a few percent (SciBench accepts 5% on
# the answer itself). "\approx" and "\cong" get the looser one.
REL_TOL = 0.03
APPROX_REL_TOL = 0.06
# Past this relative uncertainty a comparison says nothing (cancellation, a value near zero).
MAX_UNCERTAINTY = 0.5


def _side(text: str, plain: bool, degrees: bool = False, natural_log: bool = False) -> arith.Result | None:
    try:
        return arith.evaluate(text, allow_units=True, plain=plain, degrees=degrees, natural_log=natural_log)
    except (arith.NotArithmetic, ArithmeticError, ValueError, TypeError, OverflowError):
        return None


def check_claim(lhs: str, rhs: str, approx: bool, rel_tol: float, approx_rel_tol: float,
                plain: bool = False) -> dict[str, Any]:
    left, right = _side(lhs, plain), _side(rhs, plain)
    if left is None or right is None:
        return {"status": "unchecked", "note": "not a closed numeric expression"}
    out = _judge(left, right, approx, rel_tol, approx_rel_tol)
    if out["status"] == "wrong":
        # \sin 30 (degrees?) and \log 8 (base e?) have a second reading; wrong only if both readings fail.
        for degrees, natural_log in ((True, False), (False, True), (True, True)):
            if not (left.info.bare_angle or right.info.bare_angle) and degrees:
                continue
            if not (left.info.log_base or right.info.log_base) and natural_log:
                continue
            l2, r2 = _side(lhs, plain, degrees, natural_log), _side(rhs, plain, degrees, natural_log)
            if l2 is not None and r2 is not None and _judge(l2, r2, approx, rel_tol, approx_rel_tol)["status"] != "wrong":
                return {"status": "ok", "note": "holds with angles in degrees or log base e"}
    return out


def _judge(left: arith.Result, right: arith.Result, approx: bool, rel_tol: float,
           approx_rel_tol: float) -> dict[str, Any]:
    exact = not (left.info.inexact or right.info.inexact)
    if exact and (_is_q(left.value) or _is_q(right.value)):
        # Integers with units: a conversion rarely gives an integer ("25 °C = 298 K"), so a lone one is
        # rounded to its last digit as in measured values; "3 km = 300 m" stays wrong.
        slack = approx_rel_tol if approx else 1e-9
        lerr, rerr = left.info.rounding, right.info.rounding
    elif exact:
        # Integers only: exact, except that a lone integer may round a fraction ("500 / 300 × 100 = 167")
        # or truncate a quotient ("1121 ÷ 3 = 373 remainder 2"): one unit of its last place. "3 × 4 = 13"
        # stays wrong.
        slack = approx_rel_tol if approx else 1e-9
        lerr = 2 * left.info.rounding if not _integral(right) else 0.0
        rerr = 2 * right.info.rounding if not _integral(left) else 0.0
    else:
        slack = approx_rel_tol if approx else rel_tol
        # A lone integer such as "= 475 m/s" or "= 1500" is rounded to its last written digit.
        lerr = max(left.err, left.info.rounding)
        rerr = max(right.err, right.info.rounding)
    out: dict[str, Any] = {"tolerance": slack}
    lq, rq = _is_q(left.value), _is_q(right.value)
    if lq and rq:
        return out | _quantities(left, right, lerr, rerr, slack)
    if lq or rq:
        return out | _one_side_units(left, right, lerr, rerr, slack)
    a, b = float(left.value), float(right.value)
    return out | _numbers(a, b, lerr, rerr, slack, left, right)


def _is_q(x: Any) -> bool:
    return hasattr(x, "magnitude")


def _lone(*results: arith.Result) -> bool:
    """Each side is one stated value (a number, maybe with a unit), nothing computed."""
    return all(r.info.literals == 1 and not r.info.ops for r in results)


def _integral(r: arith.Result) -> bool:
    m = float(r.value.magnitude) if _is_q(r.value) else float(r.value)
    return m.is_integer()


def _compare(a: float, b: float, ea: float, eb: float, slack: float) -> str:
    """ok | wrong | imprecise for two magnitudes with absolute uncertainties and a relative slack."""
    scale = max(abs(a), abs(b))
    if abs(a - b) <= slack * scale:
        return "ok"
    if ea + eb > MAX_UNCERTAINTY * scale:
        return "imprecise"  # it would hold only thanks to a huge uncertainty, or fail despite it
    return "ok" if abs(a - b) <= ea + eb + slack * scale else "wrong"


def _power_of_ten(a: float, b: float, ea: float, eb: float, slack: float) -> bool:
    """``a`` and ``b`` differ by a factor 10^k (k != 0): a unit prefix or an exponent slip, not arithmetic."""
    if a == 0 or b == 0 or (a < 0) != (b < 0):
        return False
    k = round(math.log10(abs(a / b)))
    return k != 0 and _compare(a, b * 10 ** k, ea, eb * 10 ** k, slack) == "ok"


def _numbers(a: float, b: float, ea: float, eb: float, slack: float, left: arith.Result,
             right: arith.Result) -> dict[str, Any]:
    values = {"lhs_value": a, "rhs_value": b}
    verdict = _compare(a, b, ea, eb, slack)
    if verdict == "ok":
        return values | {"status": "ok"}
    if verdict == "imprecise":
        return values | {"status": "unchecked", "note": "the written digits leave the value too uncertain"}
    if left.info.percent != right.info.percent:
        return values | {"status": "unchecked", "note": "a percentage on one side only"}
    if _power_of_ten(a, b, ea, eb, slack):
        return values | {"status": "unchecked", "note": "the sides differ by a power of ten"}
    if _unsure(left, right):
        return values | {"status": "unchecked", "note": "units cancelled, but one may be misread"}
    if _lone(left, right):
        # "9 = 189", "5 = 1": two stated numbers, no computation: a fragment, a label or a contradiction the
        # text goes on to reject, rarely a claim of the derivation.
        return values | {"status": "unchecked", "note": "two different numbers stated equal, nothing computed"}
    return values | {"status": "wrong", "note": f"left side is {a:.6g}, right side is {b:.6g}"}


def _base(r: arith.Result, err: float) -> tuple[float, float]:
    """Magnitude and uncertainty of a quantity in SI base units (kelvin for temperatures)."""
    q = r.value
    base = q.to_base_units()
    m = float(q.magnitude)
    factor = float(base.magnitude) / m if m else float((1.0 * q.units).to_base_units().magnitude)
    return float(base.magnitude), abs(err * factor)


def _conventions(r: arith.Result) -> set[str]:
    """Convention-dependent units of a side: the same ones on both sides cancel out ("10 lb / 2 in = 60 lb/ft")."""
    return {u for u in r.info.ambiguous_units if u in arith.CONVENTION_UNITS}


def _unsure(*results: arith.Result) -> list[str]:
    notes = []
    for r in results:
        notes += r.info.ambiguous_units
        if r.info.ambiguous_division:
            notes.append("a/b unit")
    return notes


def _quantities(left: arith.Result, right: arith.Result, lerr: float, rerr: float,
                slack: float) -> dict[str, Any]:
    if arith.is_offset(left.value) or arith.is_offset(right.value):
        return _temperatures(left, right, lerr, rerr, slack)
    a, ea = _base(left, lerr)
    b, eb = _base(right, rerr)
    values = {"lhs_value": a, "rhs_value": b}
    same_dims = left.value.dimensionality == right.value.dimensionality
    verdict = _compare(a, b, ea, eb, slack)
    if same_dims:
        if verdict == "ok":
            return values | {"status": "ok"}
        if verdict == "imprecise":
            return values | {"status": "unchecked", "note": "the written digits leave the value too uncertain"}
        if _conventions(left) != _conventions(right):
            return values | {"status": "unchecked", "note": "a unit whose size depends on a convention (US or "
                                                            "imperial gallon, short or metric ton, ...)"}
        # A computed value off by 10^k is a misplaced decimal point or a unit prefix we may have misread; a
        # plain conversion ("3 km = 300 m") has nothing else that could have gone wrong.
        if _power_of_ten(a, b, ea, eb, slack) and not _lone(left, right):
            return values | {"status": "unchecked", "note": "the sides differ by a power of ten (unit prefix?)"}
        return values | {"status": "wrong", "note": f"left side is {a:.6g}, right side is {b:.6g} (SI base units)"}
    dims = f"{left.value.dimensionality} vs {right.value.dimensionality}"
    # Different dimensions are wrong only between two plainly stated quantities ("5 J = 5 W"). Inside a
    # computation they are far more often a unit typo, a misread symbol or a unit we cannot see (a
    # variable, a conversion factor) than an error of the derivation.
    unsure = _unsure(left, right)
    if unsure or not _lone(left, right) or left.info.unit_one or right.info.unit_one:
        why = f"a unit may be misread: {', '.join(sorted(set(unsure)))}" if unsure else "units of a computation"
        return {"status": "unchecked", "note": f"dimensions differ ({dims}); {why}"}
    return {"status": "wrong", "note": f"dimensions differ: {dims}"}


def _temperatures(left: arith.Result, right: arith.Result, lerr: float, rerr: float,
                  slack: float) -> dict[str, Any]:
    """°C or °F: "25 °C = 298 K" compares temperatures, "ΔT = 10 °C = 10 K" differences; either reading
    confirms the claim, and a mismatch is unchecked (which one the text means is not written)."""
    a, ea = _base(left, lerr)
    b, eb = _base(right, rerr)
    if left.value.dimensionality == right.value.dimensionality:
        if _compare(a, b, ea, eb, slack) == "ok":
            return {"status": "ok", "lhs_value": a, "rhs_value": b}
        da, db = _delta(left), _delta(right)
        if da is not None and db is not None and _compare(da, db, ea, eb, slack) == "ok":
            return {"status": "ok", "lhs_value": da, "rhs_value": db, "note": "as temperature differences"}
    return {"status": "unchecked", "note": "temperatures or temperature differences? the text does not say"}


def _delta(r: arith.Result) -> float | None:
    """A temperature read as a difference, in kelvin."""
    q = r.value
    unit = {"degree_Celsius": 1.0, "degree_Fahrenheit": 5 / 9, "kelvin": 1.0}.get(str(q.units))
    return None if unit is None else float(q.magnitude) * unit


def _one_side_units(left: arith.Result, right: arith.Result, lerr: float, rerr: float,
                    slack: float) -> dict[str, Any]:
    from scireflect.tools.verifiers import units

    q, n, eq, en = (left, right, lerr, rerr) if _is_q(left.value) else (right, left, rerr, lerr)
    nv = float(n.value)
    if q.value.units == units.registry().dimensionless:
        # The units cancelled exactly ("2.40 min^-1 / 15.3 min^-1"): a plain number after all.
        a, b = float(q.value.magnitude), nv
        a, b, ea, eb = (a, b, eq, en) if q is left else (b, a, en, eq)
        return _numbers(a, b, ea, eb, slack, left, right)
    # A unit on one side only: the number may be in any unit (a unit change), so agreement in base units
    # or in the written unit confirms the claim, and disagreement says nothing, unless the quantity is a
    # pure number after all (an angle, "J s^2 / (kg m^2)").
    base, ebase = _base(q, eq)
    for value, err in ((base, ebase), (float(q.value.magnitude), eq)):
        if _compare(value, nv, err, en, slack) == "ok":
            return {"status": "ok", "lhs_value": value if q is left else nv, "rhs_value": nv if q is left else value}
    if q.value.dimensionless:
        a, b, ea, eb = (base, nv, ebase, en) if q is left else (nv, base, en, ebase)
        return _numbers(a, b, ea, eb, slack, left, right)
    return {"status": "unchecked", "note": "one side has no unit and the magnitudes differ"}


def check_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Pool task ``steps``: payload ``{"claims": [{"lhs", "rhs", "approx", "plain"}], "rel_tol",
    "approx_rel_tol"}``."""
    rel_tol = float(payload.get("rel_tol", REL_TOL))
    approx_rel_tol = float(payload.get("approx_rel_tol", APPROX_REL_TOL))
    results = []
    for c in payload.get("claims", []):
        try:
            results.append(check_claim(str(c.get("lhs", "")), str(c.get("rhs", "")), bool(c.get("approx")),
                                       rel_tol, approx_rel_tol, bool(c.get("plain"))))
        except Exception as e:  # noqa: BLE001 - one odd claim must not hide the others
            results.append({"status": "unchecked", "note": f"{type(e).__name__}"})
    return {"results": results}
