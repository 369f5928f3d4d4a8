"""Checking extracted derivation claims ``lhs = rhs`` (runs in pool workers).

A claim is *wrong* only when both sides are closed numbers (or quantities with units) that disagree beyond
tolerance, or quantities of different dimensions. Symbolic sides (``v = d/t``), text we cannot parse and
anything unusual are *unchecked*, never wrong.
"""

from __future__ import annotations

from typing import Any

from scireflect.tools.verifiers import arith


def _value(text: str) -> tuple[Any, bool, bool] | None:
    try:
        return arith.evaluate(text, allow_units=True)
    except arith.NotArithmetic:
        pass
    except (ArithmeticError, ValueError, TypeError):
        return None
    return _sympy_value(text)


def _sympy_value(text: str) -> tuple[Any, bool, bool] | None:
    """Closed forms the small evaluator does not know (``\\sin``, ``\\ln``, ``e^{..}``), via math-verify."""
    import re

    if not re.search(r"\d", text) or not re.search(r"\\(?:sin|cos|tan|ln|log|exp|sqrt)|e\^", text):
        return None
    from scireflect.tools.verifiers import mathcmp

    try:
        parsed = mathcmp.parse(text)
    except mathcmp.TooLarge:
        return None
    value = mathcmp.real_value(parsed[0]) if parsed else None
    if value is None:
        return None
    return float(value), True, False


def check_claim(lhs: str, rhs: str, approx: bool, rel_tol: float, approx_rel_tol: float) -> dict[str, Any]:
    left, right = _value(lhs), _value(rhs)
    if left is None or right is None:
        return {"status": "unchecked", "note": "not a closed numeric expression"}
    (lv, ldec, lunits), (rv, rdec, runits) = left, right
    tol = approx_rel_tol if approx else (rel_tol if (ldec or rdec or lunits or runits) else 1e-9)
    out: dict[str, Any] = {"tolerance": tol}
    if lunits or runits:
        return out | _compare_quantities(lv, rv, lunits, runits, tol)
    lf, rf = float(lv), float(rv)
    out.update(lhs_value=lf, rhs_value=rf)
    if _close(lf, rf, tol):
        return out | {"status": "ok"}
    return out | {"status": "wrong", "note": f"left side is {lf:.6g}, right side is {rf:.6g}"}


def _close(a: float, b: float, tol: float) -> bool:
    scale = max(abs(a), abs(b))
    return abs(a - b) <= tol * scale if scale else True


def _compare_quantities(lv: Any, rv: Any, lunits: bool, runits: bool, tol: float) -> dict[str, Any]:
    if lunits and runits:
        if lv.dimensionality != rv.dimensionality:
            return {"status": "wrong", "note": f"dimensions differ: {lv.dimensionality} vs {rv.dimensionality}"}
        a, b = float(lv.to_base_units().magnitude), float(rv.to_base_units().magnitude)
    else:
        # One side without a unit: compare magnitudes in base units; disagreement may be a unit change.
        q, n = (lv, rv) if lunits else (rv, lv)
        a, b = float(q.to_base_units().magnitude), float(n)
        if not _close(a, b, tol):
            return {"status": "unchecked", "note": "one side has no unit and the magnitudes differ"}
    if _close(a, b, tol):
        return {"status": "ok", "lhs_value": a, "rhs_value": b}
    return {"status": "wrong", "note": f"left side is {a:.6g}, right side is {b:.6g} (SI base units)",
            "lhs_value": a, "rhs_value": b}


def check_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Pool task ``steps``: payload ``{"claims": [{"lhs", "rhs", "approx"}], "rel_tol", "approx_rel_tol"}``."""
    rel_tol = float(payload.get("rel_tol", 0.01))
    approx_rel_tol = float(payload.get("approx_rel_tol", 0.05))
    results = []
    for c in payload.get("claims", []):
        try:
            results.append(check_claim(str(c.get("lhs", "")), str(c.get("rhs", "")), bool(c.get("approx")),
                                       rel_tol, approx_rel_tol))
        except Exception as e:  # noqa: BLE001 - one odd claim must not hide the others
            results.append({"status": "unchecked", "note": f"{type(e).__name__}"})
    return {"results": results}
