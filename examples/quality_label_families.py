"""Problem families for examples/quality_labels.jsonl, written for scireflect.

Each family draws its numbers from ``rng`` and returns one problem with a correct worked solution
(``steps``), the solution a model typically writes when it makes that family's classic mistake
(``wrong_steps``/``wrong``), the governing principle (one line), the quantity asked for and, where the
answer has a unit, an answer with a unit error (``unit_err``). build_quality_labels.py turns them
into labeled good and bad solutions.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

G = 9.81
R = 8.314
K_E = 8.99e9
H = 6.626e-34
C = 2.998e8
EV = 1.602e-19
F_CONST = 96485


def g(x: float) -> str:
    """Three significant figures, plain notation for everyday magnitudes."""
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        s = f"{x:.3g}"
        return s if "e" not in s else f"{x:.0f}"
    m, e = f"{x:.2e}".split("e")
    return f"{m} \\times 10^{{{int(e)}}}"


Family = Callable[[random.Random], dict[str, Any]]
FAMILIES: dict[str, Family] = {}


def family(fn: Family) -> Family:
    FAMILIES[fn.__name__] = fn
    return fn


# --- physics --------------------------------------------------------------------------------------
@family
def kinematics_distance(r: random.Random) -> dict[str, Any]:
    a, t = r.choice([1.5, 2.0, 2.5, 3.2, 4.0]), r.choice([4, 5, 6, 8, 10])
    d, w = 0.5 * a * t**2, a * t**2
    return dict(subject="physics", unit="m", quantity="the distance d",
                q=f"A car starts from rest and accelerates uniformly at {a} m/s^2 for {t} s. How far does it travel?",
                principle="For uniform acceleration from rest, d = (1/2) a t^2.",
                steps=["The car starts from rest, so v_0 = 0 and d = v_0 t + (1/2) a t^2 = (1/2) a t^2.",
                       f"Substituting a = {a} m/s^2 and t = {t} s: d = 0.5 * {a} * {t}^2 = 0.5 * {a} * {t * t}.",
                       f"d = {g(d)} m."],
                wrong_steps=["Distance is acceleration times time squared: d = a t^2.",
                             f"d = {a} * {t}^2 = {g(w)} m."],
                ans=d, wrong=w, unit_err=f"{g(d)} km")


@family
def projectile_range(r: random.Random) -> dict[str, Any]:
    v, th = r.choice([12, 15, 20, 25, 30]), r.choice([20, 30, 35, 50, 70])
    rng_ = v**2 * math.sin(math.radians(2 * th)) / G
    w = v**2 * math.sin(math.radians(th)) / G
    return dict(subject="physics", unit="m", quantity="the range R",
                q=f"A ball is launched from level ground at {v} m/s at {th} degrees above the horizontal. "
                  "Ignoring air resistance, what is its horizontal range? Use g = 9.81 m/s^2.",
                principle="On level ground the range is R = v^2 sin(2 theta) / g.",
                steps=["The time of flight is t = 2 v sin(theta) / g and the horizontal speed is v cos(theta).",
                       "So R = v cos(theta) * 2 v sin(theta) / g = v^2 sin(2 theta) / g.",
                       f"sin(2 * {th} deg) = sin({2 * th} deg) = {math.sin(math.radians(2 * th)):.4f}.",
                       f"R = {v}^2 * {math.sin(math.radians(2 * th)):.4f} / 9.81 = {g(rng_)} m."],
                wrong_steps=["The range is R = v^2 sin(theta) / g.",
                             f"R = {v}^2 * sin({th} deg) / 9.81 = {v * v} * {math.sin(math.radians(th)):.4f} / 9.81 "
                             f"= {g(w)} m."],
                ans=rng_, wrong=w, unit_err=f"{g(rng_)} m/s")


@family
def friction_acceleration(r: random.Random) -> dict[str, Any]:
    m, f, mu = r.choice([4, 5, 8, 10]), r.choice([40, 50, 60, 80]), r.choice([0.1, 0.2, 0.25, 0.3])
    fr = mu * m * G
    a, w = (f - fr) / m, f / m
    return dict(subject="physics", unit="m/s^2", quantity="the acceleration a",
                q=f"A {m} kg crate on a horizontal floor is pushed with a horizontal force of {f} N. The coefficient "
                  f"of kinetic friction is {mu}. What is the crate's acceleration? Use g = 9.81 m/s^2.",
                principle="Newton's second law: a = (F - mu m g) / m.",
                steps=[f"The normal force is N = m g = {m} * 9.81 = {g(m * G)} N.",
                       f"Kinetic friction is f_k = mu N = {mu} * {g(m * G)} = {g(fr)} N, opposing the push.",
                       f"Net force: F_net = {f} - {g(fr)} = {g(f - fr)} N.",
                       f"a = F_net / m = {g(f - fr)} / {m} = {g(a)} m/s^2."],
                wrong_steps=["By Newton's second law, a = F / m.", f"a = {f} / {m} = {g(w)} m/s^2."],
                ans=a, wrong=w, unit_err=f"{g(a)} N")


@family
def spring_launch(r: random.Random) -> dict[str, Any]:
    k, x, m = r.choice([200, 300, 400, 500]), r.choice([0.05, 0.08, 0.1, 0.12]), r.choice([0.2, 0.25, 0.5])
    v, w = x * math.sqrt(k / m), x * math.sqrt(2 * k / m)
    return dict(subject="physics", unit="m/s", quantity="the speed v",
                q=f"A spring of constant {k} N/m is compressed by {x} m and launches a {m} kg block on a frictionless "
                  "surface. What is the block's speed when it leaves the spring?",
                principle="Energy conservation: (1/2) k x^2 = (1/2) m v^2.",
                steps=[f"The stored energy is E = (1/2) k x^2 = 0.5 * {k} * {x}^2 = {g(0.5 * k * x * x)} J.",
                       "All of it becomes kinetic energy: (1/2) m v^2 = E, so v = x sqrt(k / m).",
                       f"v = {x} * sqrt({k} / {m}) = {x} * {math.sqrt(k / m):.3f} = {g(v)} m/s."],
                wrong_steps=[f"The spring energy is k x^2 = {k} * {x}^2 = {g(k * x * x)} J.",
                             f"Setting (1/2) m v^2 = k x^2 gives v = x sqrt(2k/m) = {g(w)} m/s."],
                ans=v, wrong=w, unit_err=f"{g(v)} m/s^2")


@family
def series_current(r: random.Random) -> dict[str, Any]:
    v, r1, r2 = r.choice([6, 9, 12, 24]), r.choice([2, 3, 4, 10]), r.choice([6, 8, 12, 20])
    i = v / (r1 + r2)
    w = v / (r1 * r2 / (r1 + r2))
    return dict(subject="physics", unit="A", quantity="the current I",
                q=f"Resistors of {r1} ohm and {r2} ohm are connected in series to an ideal {v} V battery. "
                  "What current flows?",
                principle="Series resistances add, then Ohm's law I = V / R.",
                steps=[f"In series, R_total = R_1 + R_2 = {r1} + {r2} = {r1 + r2} ohm.",
                       f"By Ohm's law, I = V / R_total = {v} / {r1 + r2} = {g(i)} A."],
                wrong_steps=[f"The equivalent resistance is R = R_1 R_2 / (R_1 + R_2) = {g(r1 * r2 / (r1 + r2))} ohm.",
                             f"I = {v} / {g(r1 * r2 / (r1 + r2))} = {g(w)} A."],
                ans=i, wrong=w, unit_err=f"{g(i)} mA")


@family
def capacitor_energy(r: random.Random) -> dict[str, Any]:
    c, v = r.choice([10, 22, 47, 100]), r.choice([5, 12, 50, 100])
    e = 0.5 * c * 1e-6 * v**2
    w = 0.5 * c * v**2
    return dict(subject="physics", unit="J", quantity="the stored energy E",
                q=f"How much energy is stored in a {c} microfarad capacitor charged to {v} V?",
                principle="A capacitor stores E = (1/2) C V^2.",
                steps=[f"Convert the capacitance: C = {c} uF = {c} \\times 10^{{-6}} F.",
                       f"E = (1/2) C V^2 = 0.5 * {c} \\times 10^{{-6}} * {v}^2.",
                       f"E = {g(e)} J."],
                wrong_steps=[f"E = (1/2) C V^2 = 0.5 * {c} * {v}^2 = {g(w)} J."],
                ans=e, wrong=w, unit_err=f"{g(e)} W")


@family
def ideal_gas_pressure(r: random.Random) -> dict[str, Any]:
    n, tc, vl = r.choice([0.5, 1.0, 2.0]), r.choice([20, 25, 50, 100]), r.choice([10, 20, 24, 50])
    t = tc + 273.15
    p = n * R * t / (vl * 1e-3)
    w = n * R * tc / (vl * 1e-3)
    return dict(subject="chemistry", unit="Pa", quantity="the pressure P",
                q=f"{n} mol of an ideal gas occupies {vl} L at {tc} degrees C. What is its pressure in pascals?",
                principle="Ideal gas law: P = nRT / V, with T in kelvin and V in cubic metres.",
                steps=[f"T = {tc} + 273.15 = {t:.2f} K and V = {vl} L = {vl} \\times 10^{{-3}} m^3.",
                       f"P = nRT / V = {n} * 8.314 * {t:.2f} / ({vl} \\times 10^{{-3}}).",
                       f"P = {g(p)} Pa."],
                wrong_steps=[f"P = nRT / V = {n} * 8.314 * {tc} / ({vl} \\times 10^{{-3}}) = {g(w)} Pa."],
                ans=p, wrong=w, unit_err=f"{g(p)} atm")


@family
def water_heating(r: random.Random) -> dict[str, Any]:
    m, dt = r.choice([0.25, 0.5, 1.5, 2.0]), r.choice([10, 20, 35, 60])
    q = m * 4184 * dt
    w = m * 4.184 * dt
    return dict(subject="physics", unit="J", quantity="the heat Q",
                q=f"How much heat is needed to warm {m} kg of water by {dt} K? The specific heat of water is "
                  "4184 J/(kg K).",
                principle="Q = m c Delta T.",
                steps=["The heat absorbed without a phase change is Q = m c Delta T.",
                       f"Q = {m} kg * 4184 J/(kg K) * {dt} K.",
                       f"Q = {g(q)} J."],
                wrong_steps=["Q = m c Delta T with c = 4.184 for water.", f"Q = {m} * 4.184 * {dt} = {g(w)} J."],
                ans=q, wrong=w, unit_err=f"{g(q)} kJ")


@family
def wave_speed(r: random.Random) -> dict[str, Any]:
    f, lam = r.choice([220, 256, 440, 512]), r.choice([0.5, 0.75, 0.78, 1.3])
    v, w = f * lam, f / lam
    return dict(subject="physics", unit="m/s", quantity="the wave speed v",
                q=f"A sound wave has frequency {f} Hz and wavelength {lam} m. What is its speed?",
                principle="For any wave, v = f lambda.",
                steps=["The wave advances one wavelength per period, so v = lambda / T = f lambda.",
                       f"v = {f} Hz * {lam} m = {g(v)} m/s."],
                wrong_steps=[f"v = f / lambda = {f} / {lam} = {g(w)} m/s."],
                ans=v, wrong=w, unit_err=f"{g(v)} Hz")


@family
def photon_energy(r: random.Random) -> dict[str, Any]:
    nm = r.choice([400, 450, 500, 589, 650, 700])
    e = H * C / (nm * 1e-9) / EV
    w = H * C / nm / EV
    return dict(subject="physics", unit="eV", quantity="the photon energy E",
                q=f"What is the energy, in electronvolts, of a photon of wavelength {nm} nm?",
                principle="E = h c / lambda, converted from joules to eV.",
                steps=[f"lambda = {nm} nm = {nm} \\times 10^{{-9}} m.",
                       f"E = h c / lambda = (6.626 \\times 10^{{-34}})(2.998 \\times 10^8) / ({nm} \\times 10^{{-9}}) "
                       f"= {g(H * C / (nm * 1e-9))} J.",
                       f"Dividing by 1.602 \\times 10^{{-19}} J/eV: E = {g(e)} eV."],
                wrong_steps=[f"E = h c / lambda = (6.626 \\times 10^{{-34}})(2.998 \\times 10^8) / {nm}.",
                             f"In eV this is E = {g(w)} eV."],
                ans=e, wrong=w, unit_err=f"{g(e)} J")


@family
def pendulum_period(r: random.Random) -> dict[str, Any]:
    length = r.choice([0.25, 0.5, 1.0, 1.5, 2.0])
    t = 2 * math.pi * math.sqrt(length / G)
    w = 2 * math.pi * length / G
    return dict(subject="physics", unit="s", quantity="the period T",
                q=f"What is the period of a simple pendulum {length} m long for small swings? Use g = 9.81 m/s^2.",
                principle="For small oscillations T = 2 pi sqrt(L / g).",
                steps=["For small angles the pendulum is a harmonic oscillator with omega = sqrt(g / L).",
                       f"T = 2 pi / omega = 2 pi sqrt(L / g) = 2 pi sqrt({length} / 9.81).",
                       f"sqrt({length} / 9.81) = {math.sqrt(length / G):.4f}, so T = {g(t)} s."],
                wrong_steps=[f"T = 2 pi L / g = 2 pi * {length} / 9.81 = {g(w)} s."],
                ans=t, wrong=w, unit_err=f"{g(t)} Hz")


@family
def coulomb_force(r: random.Random) -> dict[str, Any]:
    q1, q2, d = r.choice([1, 2, 3, 5]), r.choice([2, 4, 6]), r.choice([0.1, 0.2, 0.3, 0.5])
    f = K_E * q1 * 1e-6 * q2 * 1e-6 / d**2
    w = K_E * q1 * 1e-6 * q2 * 1e-6 / d
    return dict(subject="physics", unit="N", quantity="the force F",
                q=f"Two point charges of {q1} uC and {q2} uC are {d} m apart in vacuum. What is the magnitude of "
                  "the electric force between them?",
                principle="Coulomb's law: F = k q_1 q_2 / r^2.",
                steps=[f"q_1 = {q1} \\times 10^{{-6}} C, q_2 = {q2} \\times 10^{{-6}} C, k = 8.99 \\times 10^9 N m^2/C^2.",
                       f"F = k q_1 q_2 / r^2 = 8.99 \\times 10^9 * {q1 * q2} \\times 10^{{-12}} / {d}^2.",
                       f"F = {g(f)} N."],
                wrong_steps=[f"F = k q_1 q_2 / r = 8.99 \\times 10^9 * {q1 * q2} \\times 10^{{-12}} / {d} = {g(w)} N."],
                ans=f, wrong=w, unit_err=f"{g(f)} J")


@family
def snell_refraction(r: random.Random) -> dict[str, Any]:
    th, n2 = r.choice([20, 30, 40, 45, 60]), r.choice([1.33, 1.5, 1.52])
    t2 = math.degrees(math.asin(math.sin(math.radians(th)) / n2))
    w = math.degrees(math.asin(min(1.0, math.sin(math.radians(th)) * n2 / 1.0))) if math.sin(
        math.radians(th)) * n2 < 1 else th / n2
    return dict(subject="physics", unit="degrees", quantity="the refraction angle",
                q=f"Light in air strikes a surface of a medium with refractive index {n2} at {th} degrees to the "
                  "normal. What is the angle of refraction?",
                principle="Snell's law: n_1 sin(theta_1) = n_2 sin(theta_2).",
                steps=[f"n_1 = 1.00 for air, so sin(theta_2) = sin({th} deg) / {n2}.",
                       f"sin(theta_2) = {math.sin(math.radians(th)):.4f} / {n2} = {math.sin(math.radians(t2)):.4f}.",
                       f"theta_2 = arcsin({math.sin(math.radians(t2)):.4f}) = {g(t2)} degrees."],
                wrong_steps=[f"sin(theta_2) = {n2} sin({th} deg), so theta_2 = {g(w)} degrees."],
                ans=t2, wrong=w, unit_err=f"{g(t2)} rad")


@family
def radioactive_decay(r: random.Random) -> dict[str, Any]:
    half, t, n0 = r.choice([5, 8, 12]), r.choice([10, 16, 20, 24, 30]), r.choice([800, 1000, 1600])
    n = n0 * 0.5 ** (t / half)
    w = max(0.0, n0 * (1 - 0.5 * t / half))
    return dict(subject="physics", unit="mg", quantity="the remaining mass",
                q=f"A sample contains {n0} mg of an isotope with a half-life of {half} days. How much remains after "
                  f"{t} days?",
                principle="Radioactive decay: N = N_0 (1/2)^(t / t_half).",
                steps=["Each half-life halves the amount, so N = N_0 (1/2)^(t / t_half).",
                       f"t / t_half = {t} / {half} = {t / half:.3f}.",
                       f"N = {n0} * 0.5^{t / half:.3f} = {g(n)} mg."],
                wrong_steps=[f"The sample loses half of {n0} mg every {half} days, i.e. {n0 / 2 / half:.1f} mg per day.",
                             f"After {t} days, N = {n0} - {n0 / 2 / half:.1f} * {t} = {g(w)} mg."],
                ans=n, wrong=w, unit_err=f"{g(n)} g")


# --- chemistry ------------------------------------------------------------------------------------
@family
def moles_from_mass(r: random.Random) -> dict[str, Any]:
    m = r.choice([5.0, 11.7, 20.0, 29.2, 50.0])
    n, w = m / 58.44, m / 35.45
    return dict(subject="chemistry", unit="mol", quantity="the amount n",
                q=f"How many moles of sodium chloride are in {m} g of NaCl? (Na = 22.99, Cl = 35.45 g/mol)",
                principle="n = m / M.",
                steps=["The molar mass of NaCl is M = 22.99 + 35.45 = 58.44 g/mol.",
                       f"n = m / M = {m} g / 58.44 g/mol = {g(n)} mol."],
                wrong_steps=[f"n = m / M = {m} / 35.45 = {g(w)} mol."],
                ans=n, wrong=w, unit_err=f"{g(n)} g")


@family
def dilution(r: random.Random) -> dict[str, Any]:
    c1, v1, v2 = r.choice([2.0, 6.0, 12.0]), r.choice([10, 25, 50]), r.choice([250, 500, 1000])
    c2, w = c1 * v1 / v2, c1 * v2 / v1
    return dict(subject="chemistry", unit="M", quantity="the new concentration",
                q=f"{v1} mL of {c1} M hydrochloric acid is diluted with water to {v2} mL. What is the new "
                  "concentration?",
                principle="Moles of solute are conserved: C_1 V_1 = C_2 V_2.",
                steps=["Dilution does not change the moles of HCl, so C_1 V_1 = C_2 V_2.",
                       f"C_2 = C_1 V_1 / V_2 = {c1} M * {v1} mL / {v2} mL = {g(c2)} M."],
                wrong_steps=[f"C_2 = C_1 V_2 / V_1 = {c1} * {v2} / {v1} = {g(w)} M."],
                ans=c2, wrong=w, unit_err=f"{g(c2)} mol")


@family
def strong_acid_ph(r: random.Random) -> dict[str, Any]:
    c = r.choice([0.1, 0.02, 0.005, 0.001, 0.05])
    ph, w = -math.log10(c), -math.log(c)
    return dict(subject="chemistry", unit=None, quantity="the pH",
                q=f"What is the pH of a {c} M solution of HCl, a strong acid?",
                principle="A strong acid dissociates completely, so pH = -log10 [H+].",
                steps=[f"HCl dissociates completely: [H+] = {c} M.",
                       f"pH = -log10({c}) = {ph:.2f}."],
                wrong_steps=[f"pH = -ln[H+] = -ln({c}) = {w:.2f}."],
                ans=round(ph, 2), wrong=round(w, 2), unit_err=None)


@family
def weak_acid_ph(r: random.Random) -> dict[str, Any]:
    ka, c = r.choice([1.8e-5, 6.3e-5, 3.0e-8]), r.choice([0.1, 0.05, 0.2])
    h = math.sqrt(ka * c)
    ph, w = -math.log10(h), -math.log10(ka * c)
    return dict(subject="chemistry", unit=None, quantity="the pH",
                q=f"A weak monoprotic acid has Ka = {g(ka)}. What is the pH of a {c} M solution?",
                principle="For a weak acid with small dissociation, [H+] = sqrt(Ka c).",
                steps=["HA <=> H+ + A-, with Ka = x^2 / (c - x); x is small compared with c, so x^2 = Ka c.",
                       f"[H+] = sqrt({g(ka)} * {c}) = {g(h)} M.",
                       f"pH = -log10({g(h)}) = {ph:.2f}."],
                wrong_steps=[f"[H+] = Ka c = {g(ka)} * {c} = {g(ka * c)} M.",
                             f"pH = -log10({g(ka * c)}) = {w:.2f}."],
                ans=round(ph, 2), wrong=round(w, 2), unit_err=None)


@family
def water_from_hydrogen(r: random.Random) -> dict[str, Any]:
    m = r.choice([2.0, 4.0, 5.0, 10.0])
    out, w = m / 2.016 * 18.02, m
    return dict(subject="chemistry", unit="g", quantity="the mass of water",
                q=f"{m} g of hydrogen gas burns completely in excess oxygen (2 H2 + O2 -> 2 H2O). What mass of water "
                  "forms? (H = 1.008, O = 16.00 g/mol)",
                principle="Convert to moles, use the 2:2 mole ratio, convert back to grams.",
                steps=[f"n(H2) = {m} g / 2.016 g/mol = {g(m / 2.016)} mol.",
                       f"The equation gives 2 mol H2O per 2 mol H2, so n(H2O) = {g(m / 2.016)} mol.",
                       f"m(H2O) = {g(m / 2.016)} mol * 18.02 g/mol = {g(out)} g."],
                wrong_steps=[f"By conservation of mass, the hydrogen becomes water one to one: {g(w)} g."],
                ans=out, wrong=w, unit_err=f"{g(out)} mol")


@family
def first_order_half_life(r: random.Random) -> dict[str, Any]:
    k = r.choice([0.0115, 0.023, 0.0347, 0.0693, 0.173])
    t, w = math.log(2) / k, 1 / k
    return dict(subject="chemistry", unit="s", quantity="the half-life",
                q=f"A first-order reaction has rate constant k = {k} s^-1. What is its half-life?",
                principle="For first-order kinetics t_1/2 = ln 2 / k.",
                steps=["Integrating d[A]/dt = -k[A] gives [A] = [A]_0 e^{-kt}; setting [A] = [A]_0 / 2 gives "
                       "t_1/2 = ln 2 / k.",
                       f"t_1/2 = 0.693 / {k} s^-1 = {g(t)} s."],
                wrong_steps=[f"t_1/2 = 1 / k = 1 / {k} = {g(w)} s."],
                ans=t, wrong=w, unit_err=f"{g(t)} s^-1")


@family
def gibbs_energy(r: random.Random) -> dict[str, Any]:
    dh, ds, t = r.choice([-92.2, -45.0, 178.0, 44.0]), r.choice([-198.7, 160.6, 118.9, 25.0]), r.choice([298, 350, 500])
    dg, w = dh - t * ds / 1000, dh - t * ds
    return dict(subject="chemistry", unit="kJ/mol", quantity="Delta G",
                q=f"For a reaction, Delta H = {dh} kJ/mol and Delta S = {ds} J/(mol K). What is Delta G at {t} K?",
                principle="Delta G = Delta H - T Delta S, with both in kJ.",
                steps=[f"Convert Delta S to kJ: {ds} J/(mol K) = {ds / 1000:.4f} kJ/(mol K).",
                       f"T Delta S = {t} * {ds / 1000:.4f} = {g(t * ds / 1000)} kJ/mol.",
                       f"Delta G = {dh} - ({g(t * ds / 1000)}) = {g(dg)} kJ/mol."],
                wrong_steps=[f"Delta G = Delta H - T Delta S = {dh} - {t} * {ds} = {g(w)} kJ/mol."],
                ans=dg, wrong=w, unit_err=f"{g(dg)} J/mol")


@family
def cell_gibbs(r: random.Random) -> dict[str, Any]:
    e, n = r.choice([1.10, 0.46, 1.56, 0.78]), r.choice([1, 2, 3])
    dg, w = -n * F_CONST * e / 1000, -F_CONST * e / 1000
    if n == 1:
        w = -2 * F_CONST * e / 1000
    return dict(subject="chemistry", unit="kJ/mol", quantity="Delta G",
                q=f"A galvanic cell has standard potential {e} V and transfers {n} mol of electrons per mole of "
                  "reaction. What is the standard Gibbs energy change?",
                principle="Delta G = -n F E.",
                steps=["The electrical work links Gibbs energy and cell potential: Delta G = -n F E.",
                       f"Delta G = -{n} * 96485 C/mol * {e} V = {g(-n * F_CONST * e)} J/mol.",
                       f"Delta G = {g(dg)} kJ/mol."],
                wrong_steps=[f"Delta G = -F E{'' if n == 1 else ''} = -96485 * {e}{' * 2' if n == 1 else ''} "
                             f"= {g(w * 1000)} J/mol = {g(w)} kJ/mol."],
                ans=dg, wrong=w, unit_err=f"{g(dg)} kJ")


@family
def boyle_law(r: random.Random) -> dict[str, Any]:
    p1, v1, p2 = r.choice([100, 101.3, 150]), r.choice([2.0, 5.0, 12.0]), r.choice([200, 250, 400])
    v2, w = p1 * v1 / p2, p2 * v1 / p1
    return dict(subject="chemistry", unit="L", quantity="the new volume",
                q=f"A gas occupies {v1} L at {p1} kPa. At constant temperature it is compressed to {p2} kPa. "
                  "What is its new volume?",
                principle="Boyle's law: P_1 V_1 = P_2 V_2 at constant temperature.",
                steps=["At constant T and amount, P V is constant: P_1 V_1 = P_2 V_2.",
                       f"V_2 = P_1 V_1 / P_2 = {p1} * {v1} / {p2} = {g(v2)} L."],
                wrong_steps=[f"V_2 = P_2 V_1 / P_1 = {p2} * {v1} / {p1} = {g(w)} L."],
                ans=v2, wrong=w, unit_err=f"{g(v2)} kPa")


# --- mathematics ----------------------------------------------------------------------------------
@family
def cubic_derivative(r: random.Random) -> dict[str, Any]:
    a, b, x0 = r.choice([2, 3, 4, 5]), r.choice([-7, -3, 2, 6]), r.choice([1, 2, 3])
    d, w = 3 * a * x0**2 + b, a * x0**2 + b
    return dict(subject="mathematics", unit=None, quantity="f'(x_0)",
                q=f"Let f(x) = {a}x^3 + ({b})x. Compute f'({x0}).",
                principle="Differentiate term by term with the power rule d/dx x^n = n x^(n-1).",
                steps=[f"By the power rule, f'(x) = 3 * {a} x^2 + ({b}) = {3 * a}x^2 + ({b}).",
                       f"f'({x0}) = {3 * a} * {x0}^2 + ({b}) = {3 * a * x0 * x0} + ({b}) = {d}."],
                wrong_steps=[f"f'(x) = {a}x^2 + ({b}).", f"f'({x0}) = {a} * {x0 * x0} + ({b}) = {w}."],
                ans=d, wrong=w, unit_err=None)


@family
def definite_integral(r: random.Random) -> dict[str, Any]:
    k, c = r.choice([2, 3, 6]), r.choice([2, 3, 4, 5])
    v, w = k * c**3 / 3, k * c**3
    return dict(subject="mathematics", unit=None, quantity="the integral",
                q=f"Evaluate the integral of {k}x^2 from x = 0 to x = {c}.",
                principle="An antiderivative of x^2 is x^3 / 3 (fundamental theorem of calculus).",
                steps=[f"An antiderivative of {k}x^2 is {k}x^3 / 3.",
                       f"Evaluating from 0 to {c}: {k} * {c}^3 / 3 - 0 = {k * c**3} / 3 = {g(v)}."],
                wrong_steps=[f"The antiderivative is {k}x^3, so the integral is {k} * {c}^3 = {w}."],
                ans=v, wrong=w, unit_err=None)


@family
def quadratic_root(r: random.Random) -> dict[str, Any]:
    p, q = r.choice([1, 2, 3, 4]), r.choice([-5, -3, -2, 6])
    b, c = -(p + q), p * q
    big, w = max(p, q), max(-p, -q)
    return dict(subject="mathematics", unit=None, quantity="the larger root",
                q=f"Find the larger root of x^2 + ({b})x + ({c}) = 0.",
                principle="Quadratic formula x = (-b +- sqrt(b^2 - 4c)) / 2.",
                steps=[f"The discriminant is b^2 - 4c = {b * b} - ({4 * c}) = {b * b - 4 * c}, whose square root is "
                       f"{abs(p - q)}.",
                       f"x = ({-b} +- {abs(p - q)}) / 2, giving x = {max(p, q)} or x = {min(p, q)}.",
                       f"The larger root is {big}."],
                wrong_steps=[f"x = (b +- sqrt(b^2 - 4c)) / 2 = ({b} +- {abs(p - q)}) / 2.",
                             f"The larger root is {w}."],
                ans=big, wrong=w, unit_err=None)


@family
def binomial_probability(r: random.Random) -> dict[str, Any]:
    n, k = r.choice([4, 5, 6]), r.choice([2, 3])
    pr, w = math.comb(n, k) / 2**n, 1 / 2**n
    return dict(subject="mathematics", unit=None, quantity="the probability",
                q=f"A fair coin is tossed {n} times. What is the probability of exactly {k} heads?",
                principle="Binomial distribution: P = C(n, k) p^k (1-p)^(n-k).",
                steps=[f"Each sequence has probability (1/2)^{n} = 1/{2**n}.",
                       f"The number of sequences with exactly {k} heads is C({n}, {k}) = {math.comb(n, k)}.",
                       f"P = {math.comb(n, k)} / {2**n} = {pr:.4f}."],
                wrong_steps=[f"The probability of one particular outcome is (1/2)^{n}, so P = 1/{2**n} = {w:.4f}."],
                ans=round(pr, 4), wrong=round(w, 4), unit_err=None)


@family
def sample_std(r: random.Random) -> dict[str, Any]:
    data = r.choice([[2, 4, 4, 5, 7], [3, 5, 8, 10], [10, 12, 15, 19], [1, 3, 6, 6, 9]])
    n, mean = len(data), sum(data) / len(data)
    ss = sum((x - mean) ** 2 for x in data)
    s, w = math.sqrt(ss / (n - 1)), math.sqrt(ss / n)
    return dict(subject="statistics", unit=None, quantity="the sample standard deviation s",
                q=f"Compute the sample standard deviation of the data {', '.join(map(str, data))}.",
                principle="s = sqrt(sum (x - mean)^2 / (n - 1)).",
                steps=[f"The mean is {sum(data)} / {n} = {g(mean)}.",
                       f"The sum of squared deviations is {g(ss)}.",
                       f"s = sqrt({g(ss)} / ({n} - 1)) = sqrt({g(ss / (n - 1))}) = {g(s)}."],
                wrong_steps=[f"The mean is {g(mean)} and the squared deviations add to {g(ss)}.",
                             f"s = sqrt({g(ss)} / {n}) = {g(w)}."],
                ans=s, wrong=w, unit_err=None)


@family
def exponential_ode(r: random.Random) -> dict[str, Any]:
    k, y0, t = r.choice([0.1, 0.2, 0.5]), r.choice([10, 50, 100]), r.choice([2, 3, 4])
    y, w = y0 * math.exp(-k * t), y0 * (1 - k * t)
    return dict(subject="mathematics", unit=None, quantity="y(t)",
                q=f"Solve dy/dt = -{k} y with y(0) = {y0}. What is y({t})?",
                principle="Separable equation: y = y_0 e^{-kt}.",
                steps=["Separating variables: dy / y = -k dt, so ln y = -k t + C and y = y_0 e^{-kt}.",
                       f"y({t}) = {y0} e^{{-{k} * {t}}} = {y0} e^{{-{k * t:g}}} = {g(y)}."],
                wrong_steps=[f"y changes at rate -{k} y_0, so y({t}) = {y0}(1 - {k} * {t}) = {g(w)}."],
                ans=y, wrong=w, unit_err=None)


@family
def geometric_series(r: random.Random) -> dict[str, Any]:
    a, q, n = r.choice([1, 2, 3]), r.choice([2, 3]), r.choice([5, 6, 8])
    s, w = a * (q**n - 1) // (q - 1), a * (q ** (n + 1) - 1) // (q - 1)
    return dict(subject="mathematics", unit=None, quantity="the sum",
                q=f"Find the sum of the first {n} terms of the geometric sequence with first term {a} and ratio {q}.",
                principle="S_n = a (r^n - 1) / (r - 1).",
                steps=[f"The terms are {a}, {a * q}, {a * q * q}, ... up to {a * q ** (n - 1)}.",
                       f"S_{n} = a (r^n - 1)/(r - 1) = {a} ({q}^{n} - 1)/({q} - 1) = {a} * {q**n - 1} / {q - 1} = {s}."],
                wrong_steps=[f"S = a (r^(n+1) - 1)/(r - 1) = {a} ({q}^{n + 1} - 1)/{q - 1} = {w}."],
                ans=s, wrong=w, unit_err=None)


@family
def compound_interest(r: random.Random) -> dict[str, Any]:
    p, rate, yrs = r.choice([1000, 2500, 5000]), r.choice([3, 4, 5, 6]), r.choice([5, 10, 15])
    a, w = p * (1 + rate / 100) ** yrs, p * (1 + rate * yrs / 100)
    return dict(subject="mathematics", unit="dollars", quantity="the balance",
                q=f"${p} is invested at {rate}% interest compounded annually. What is the balance after {yrs} years?",
                principle="Compound growth: A = P (1 + r)^t.",
                steps=["Each year multiplies the balance by (1 + r).",
                       f"A = {p} * (1.{rate:02d})^{yrs} = {p} * {(1 + rate / 100) ** yrs:.4f} = {g(a)} dollars."],
                wrong_steps=[f"Interest is {rate}% of {p} per year, so A = {p} (1 + {rate / 100} * {yrs}) = {g(w)} dollars."],
                ans=a, wrong=w, unit_err=f"{g(a)} percent")


# --- biology, earth and space ---------------------------------------------------------------------
@family
def hardy_weinberg(r: random.Random) -> dict[str, Any]:
    q2 = r.choice([0.01, 0.04, 0.09, 0.16, 0.25])
    q = math.sqrt(q2)
    het, w = 2 * (1 - q) * q, 2 * q2
    return dict(subject="biology", unit=None, quantity="the carrier frequency 2pq",
                q=f"In a population in Hardy-Weinberg equilibrium, {q2 * 100:g}% of individuals show a recessive "
                  "trait. What fraction of the population are heterozygous carriers?",
                principle="Hardy-Weinberg: p^2 + 2pq + q^2 = 1 with p + q = 1.",
                steps=[f"q^2 = {q2}, so q = sqrt({q2}) = {g(q)} and p = 1 - q = {g(1 - q)}.",
                       f"Carriers: 2pq = 2 * {g(1 - q)} * {g(q)} = {g(het)}."],
                wrong_steps=[f"The recessive allele frequency is q = {q2}, so carriers are 2q = {g(w)}."],
                ans=het, wrong=w, unit_err=None)


@family
def bacterial_growth(r: random.Random) -> dict[str, Any]:
    n0, dbl, t = r.choice([100, 500, 1000]), r.choice([20, 30]), r.choice([60, 120, 180])
    n, w = n0 * 2 ** (t / dbl), n0 * (1 + t / dbl)
    return dict(subject="biology", unit="cells", quantity="the population",
                q=f"A culture starts with {n0} bacteria that double every {dbl} minutes. How many are there after "
                  f"{t} minutes?",
                principle="Exponential growth: N = N_0 2^(t / t_d).",
                steps=[f"The number of doublings is t / t_d = {t} / {dbl} = {t // dbl}.",
                       f"N = {n0} * 2^{t // dbl} = {n0} * {2 ** (t // dbl)} = {g(n)} cells."],
                wrong_steps=[f"The culture grows by {n0} every {dbl} minutes, so N = {n0}(1 + {t}/{dbl}) = {g(w)} cells."],
                ans=n, wrong=w, unit_err=None)


@family
def kepler_period(r: random.Random) -> dict[str, Any]:
    a = r.choice([1.52, 4.0, 5.2, 9.0, 2.8])
    t, w = a**1.5, a ** (2 / 3)
    return dict(subject="astronomy", unit="years", quantity="the orbital period",
                q=f"An asteroid orbits the Sun with a semi-major axis of {a} AU. What is its orbital period?",
                principle="Kepler's third law in solar units: T^2 = a^3 (T in years, a in AU).",
                steps=["In years and astronomical units Kepler's third law reads T^2 = a^3.",
                       f"T = a^(3/2) = {a}^1.5 = sqrt({g(a**3)}) = {g(t)} years."],
                wrong_steps=[f"T^3 = a^2, so T = {a}^(2/3) = {g(w)} years."],
                ans=t, wrong=w, unit_err=f"{g(t)} AU")
