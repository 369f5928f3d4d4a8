"""Compare two evaluation runs item by item: per-subject accuracy of each with Wilson intervals, the
difference, McNemar's exact test on the paired outcomes, and a bar chart PNG."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from scireflect.errors import ConfigError, InputError, missing_dependency
from scireflect.evaluation.results import EvalStore
from scireflect.evaluation.stats import paired
from scireflect.settings import Settings


def _outcomes(store: EvalStore, run_id: str) -> tuple[dict[str, bool], dict[str, str]]:
    ok, subject = {}, {}
    for item_id, rec in store.read_items(run_id).items():
        if rec.get("ok") is not None:
            ok[item_id] = bool(rec["ok"])
            subject[item_id] = rec.get("subject") or "general"
    return ok, subject


def _row(name: str, a: dict[str, bool], b: dict[str, bool]) -> dict[str, Any]:
    return {"subject": name, **paired(a, b)}


def compare_runs(settings: Settings, ref_a: str, ref_b: str, out: Path | None = None,
                 chart: bool = True) -> dict[str, Any]:
    store = EvalStore(settings)
    id_a, id_b = store.resolve(ref_a), store.resolve(ref_b)
    meta_a, meta_b = store.read_meta(id_a), store.read_meta(id_b)
    a, subj = _outcomes(store, id_a)
    b, _ = _outcomes(store, id_b)
    shared = sorted(a.keys() & b.keys())
    if not shared:
        raise InputError(f"runs {id_a!r} and {id_b!r} have no scored items in common; compare runs of one benchmark")
    subjects = sorted({subj[i] for i in shared})
    rows = [_row(s, {i: a[i] for i in shared if subj[i] == s}, {i: b[i] for i in shared if subj[i] == s})
            for s in subjects]
    overall = _row("overall", {i: a[i] for i in shared}, {i: b[i] for i in shared})
    result: dict[str, Any] = {
        "a": id_a, "b": id_b, "rows": rows, "overall": overall,
        "only_in_a": len(a.keys() - b.keys()), "only_in_b": len(b.keys() - a.keys()),
        "same_benchmark": (meta_a.get("benchmark") or {}).get("digest") == (meta_b.get("benchmark") or {}).get("digest"),
        "test": "McNemar exact (two-sided) on items scored in both runs",
    }
    if chart:
        path = out or store.root / "compare" / f"{id_a}__vs__{id_b}.png"
        result["chart"] = str(bar_chart(rows + [overall], id_a, id_b, path))
    return result


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)) or text


def bar_chart(rows: list[dict[str, Any]], label_a: str, label_b: str, path: Path) -> Path:
    """Grouped bars of accuracy per subject with Wilson 95% error bars and each subject's McNemar p.

    The p-values sit in a band above the bars (no interval reaches past 1.0) and the legend, with
    the full run ids, goes below the axes, so neither covers the other or the bars."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never open a window
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise missing_dependency("matplotlib", "classifier") from e
    xs = range(len(rows))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.8), layout="constrained")
    for offset, key, ci, label in ((-width / 2, "acc_a", "ci_a", f"A: {label_a}"),
                                   (width / 2, "acc_b", "ci_b", f"B: {label_b}")):
        vals = [r[key] for r in rows]
        # max(0, ...): at 0% or 100% the interval's end can differ from the value by rounding noise.
        err = [[max(0.0, v - r[ci][0]) for v, r in zip(vals, rows)],
               [max(0.0, r[ci][1] - v) for v, r in zip(vals, rows)]]
        ax.bar([x + offset for x in xs], vals, width, yerr=err, capsize=3, label=_wrap(label, 90))
    for x, r in zip(xs, rows):
        ax.text(x, 1.07, f"p={r['p_value']:.2g}", ha="center", va="center", fontsize=7)
    ax.axhline(1.0, color="0.85", linewidth=0.8, zorder=0)
    ax.set_title("p: two-sided exact McNemar test on the items both runs scored", fontsize=8, color="0.3")
    ax.set_xticks(list(xs), [f"{_wrap(r['subject'], 14)}\n(n={r['n']})" for r in rows], fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(0, 1.14)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("accuracy (95% Wilson CI)")
    fig.legend(loc="outside lower center", fontsize=7, frameon=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    except OSError as e:
        raise ConfigError(f"cannot write chart {path}: {e}") from e
    finally:
        plt.close(fig)
    return path
