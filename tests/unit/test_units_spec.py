"""``parse_unit_spec``: the ``unit`` field of question files, as SciBench writes it (LaTeX, leading powers of
ten, percent signs, currencies, counted things), and every unit string of the SciBench textbooks."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from scireflect.tools.verifiers.units import UnitSpec, parse_unit, parse_unit_spec, registry

SCIBENCH = Path(__file__).resolve().parents[2].parent / "shared" / "scibench"

# Measured over the 10 textbooks (NAME.json and NAME_sol.json): 338 distinct unit strings, 337 read.
SCIBENCH_DISTINCT = 338
SCIBENCH_UNREADABLE = {
    # Atkins' made-up temperature scale ("0 °N ... 100 °N"): no such unit exists, and "degree newton" is wrong.
    "$^{\\circ} \\mathrm{N}$",
}


def U(expr: str):  # noqa: N802 - reads like the unit it builds
    return registry().parse_units(expr)


@pytest.mark.parametrize("text,factor,plain,units", [
    (" $\\mathrm{~kJ} \\mathrm{~mol}^{-1}$", 1, "kJ mol^-1", "kJ/mol"),
    ("$\\mathrm{kJ} \\mathrm{mol}^{-1}$", 1, "kJ mol^-1", "kJ/mol"),
    ("$\\mathrm{KJ} \\mathrm{mol}^{-1}$", 1, "KJ mol^-1", "kJ/mol"),
    (" $10^{11} \\mathrm{~s}$", 10**11, "s", "s"),
    ("$10^{-19} \\mathrm{~J}$", Fraction(1, 10**19), "J", "J"),
    (" $\\mathrm{~Pa} \\mathrm{~m}^3 \\mathrm{~mol}^{-1}$", 1, "Pa m^3 mol^-1", "Pa*m**3/mol"),
    (" $\\mathrm{dm}^3\\mathrm{~mol}^{-1}$", 1, "dm^3 mol^-1", "dm**3/mol"),
    ("$\\mathrm{~cm}{ }^3$", 1, "cm^3", "cm**3"),
    ("$\\mathrm{J} \\mathrm{K}^{-1}$", 1, "J K^-1", "J/K"),
    ("$\\mathrm{JK}^{-1} \\mathrm{~mol}^{-1}$", 1, "JK^-1 mol^-1", "J/K/mol"),
    (" $ \\mathrm{Jmol}^{-1} \\mathrm{~K}^{-1}$", 1, "Jmol^-1 K^-1", "J/K/mol"),
    ("$^{\\circ} \\mathrm{C}$", 1, "degC", "degC"),
    (" ${ }^{\\circ} \\mathrm{C}$", 1, "degC", "degC"),
    ("$^\\circ$", 1, "deg", "degree"),
    (" ${\\circ}$", 1, "deg", "degree"),
    ("m/s", 1, "m/s", "m/s"),
    ("$\\mathrm{~m} \\cdot \\mathrm{s}^{-1}$ ", 1, "m s^-1", "m/s"),
    (" $\\mathrm{~m} \\mathrm{~s}^{-1}$", 1, "m s^-1", "m/s"),
    (" $10^{-5}~\\mathrm{m^2~s^{-1}}$", Fraction(1, 10**5), "m^2 s^-1", "m**2/s"),
    (" $10 ^ {-6}m/s^2$", Fraction(1, 10**6), "m/s^2", "m/s**2"),
    (" $\\mathrm{10^{-4}} \\mathrm{~cm}^3/\\mathrm{s}$", Fraction(1, 10**4), "cm^3/s", "cm**3/s"),
    ("$10^5 \\mathrm{~N} \\cdot \\mathrm{m}^2 / \\mathrm{C}$ ", 10**5, "N m^2/C", "N*m**2/C"),
    ("$\\times 10^{3} \\mathrm{~kg}$", 1000, "kg", "kg"),
    ("$\\text{atm}$", 1, "atm", "atm"),
    ("$ \\text { days }$ ", 1, "days", "day"),
    ("$\\text{kPA}$", 1, "kPA", "kPa"),
    (" $\\mathrm{Torr}$", 1, "Torr", "torr"),
    (" Year", 1, "Year", "year"),
    (" $Å$", 1, "Å", "angstrom"),
    ("\\AA", 1, "Å", "angstrom"),
    (" $\\mu \\mathrm{T}$", 1, "µT", "microtesla"),
    (" $\\Omega$", 1, "Ω", "ohm"),
    (" $\\mathrm{D}$", 1, "D", "debye"),
    (" $\\mathrm{AU}$", 1, "AU", "astronomical_unit"),
    (" $\\mathrm{ft-lb}$", 1, "ft lbf", "ft*lbf"),
    ("$\\mathrm{lb} \\mathrm{in}^{-2}$", 1, "lbf/in^2", "lbf/in**2"),  # psi
    (" $\\mathrm{lb} \\cdot \\mathrm{s} / \\mathrm{ft}$", 1, "lbf s/ft", "lbf*s/ft"),
    (" lb", 1, "lb", "lb"),
    (" $10^3 \\mathrm{~J}^{\\circ} \\mathrm{C}^{-1}$\r\n", 1000, "J degC^-1", "J/degC"),
    (" $\\mathrm{~N} \\hat{\\mathrm{i}}$", 1, "N", "N"),  # a unit vector is a direction, not a dimension
    # Counted things carry no dimension: dropped with their exponent.
    (" $10^{16}$ photons", 10**16, "", None),
    ("$10^{10} \\text { electrons; }$", 10**10, "", None),
    (" $\r\n10^{15} \\text { photon } \\cdot \\mathrm{s}^{-1}\r\n$", 10**15, "s^-1", "1/s"),
    (" $10^{-17} \\mathrm{~J} \\cdot$ electron ${ }^{-1}$", Fraction(1, 10**17), "J", "J"),
    ("$10^{-18} \\mathrm{~J} / \\alpha \\text {-particle}$", Fraction(1, 10**18), "J", "J"),
    ("photons per second", 1, "/second", "1/s"),
    ("electron volts", 1, "eV", "eV"),
    ("$e$ ", 1, "", None),  # "in terms of e": a count of elementary charges
    # Bare powers of ten, blanks, currencies.
    ("$10^{42}$", 10**42, "", None),
    (" $10^{-6}$", Fraction(1, 10**6), "", None),
    (" ", 1, "", None),
    ("", 1, "", None),
    (" $", 1, "", None),
    (" $\\$$", 1, "", None),
    ("million years", 10**6, "years", "year"),
])
def test_unit_spec_table(text: str, factor: Fraction | int, plain: str, units: str | None) -> None:
    spec = parse_unit_spec(text)
    assert spec is not None, text
    assert spec.factor == factor and isinstance(spec.factor, Fraction)
    assert spec.text == plain and not spec.percent
    assert spec.units == (None if units is None else U(units))
    if plain:
        assert parse_unit(spec.text) == spec.units  # the text is a spelling parse_unit itself reads


def test_examples_of_the_interface() -> None:
    assert parse_unit_spec(" $\\mathrm{~kJ} \\mathrm{~mol}^{-1}$").units == U("kJ/mol")
    assert parse_unit_spec("$10^{11} \\mathrm{~s}$").factor == 10**11
    assert parse_unit_spec(None) == UnitSpec(Fraction(1), "", None)
    assert parse_unit_spec(" \t ") == UnitSpec(Fraction(1), "", None)


@pytest.mark.parametrize("text,factor", [("$\\%$", 1), (" %", 1), ("% ", 1), (" $10^{-3} \\%$", Fraction(1, 1000)),
                                         ("percent", 1)])
def test_percent(text: str, factor: Fraction | int) -> None:
    assert parse_unit_spec(text) == UnitSpec(Fraction(factor), "", None, percent=True)


@pytest.mark.parametrize("text", [
    "$^{\\circ} \\mathrm{N}$",   # a temperature scale pint does not have
    "1.5 m",                     # a number that is not a power of ten
    "10^{9999} m",               # an exponent far past any float
    "10^{99999} m",
    "x" * 201,                   # longer than any unit
    "\\pi rad", "\\sqrt{m}",     # maths
    "kJ/mol; see above",         # prose
    "yuan", "{", "}}}^^^",
    12, ["m"],                   # not text at all
])
def test_unreadable_is_none(text: object) -> None:
    assert parse_unit_spec(text) is None  # type: ignore[arg-type]


def test_total_and_bounded_on_odd_input() -> None:
    for text in ["\\mathrm{" * 60, "^" * 150, "10^{" * 40, "$" * 199, "\\frac{" * 30, "m" * 200, "\x00\udcff",
                 "10^{-400} m", "(((((m)))))" * 15]:
        spec = parse_unit_spec(text)
        assert spec is None or isinstance(spec, UnitSpec)


def _scibench_units() -> set[str]:
    seen: set[str] = set()
    for path in sorted(SCIBENCH.glob("*.json")):
        for rec in json.loads(path.read_text(encoding="utf-8")):
            if isinstance(rec, dict) and rec.get("unit") is not None:
                seen.add(rec["unit"])
    return seen


@pytest.mark.skipif(not SCIBENCH.is_dir(), reason=f"SciBench textbooks not present at {SCIBENCH}")
def test_every_scibench_unit_string_is_read() -> None:
    strings = _scibench_units()
    assert len(strings) == SCIBENCH_DISTINCT
    unreadable = {s for s in strings if parse_unit_spec(s) is None}
    assert unreadable == SCIBENCH_UNREADABLE
    for s in strings - unreadable:  # whatever is read is consistent: a unit exactly when there is text
        spec = parse_unit_spec(s)
        assert spec is not None and (spec.units is None) == (spec.text == "")
