"""Compare two evaluation runs item by item: per-subject accuracy of each with Wilson intervals, the
difference, McNemar's exact test on the paired outcomes, and a bar chart PNG."""

from __future__ import annotations

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


def bar_chart(rows: list[dict[str, Any]], label_a: str, label_b: str, path: Path) -> Path:
    """Grouped bars of accuracy per subject with Wilson 95% error bars."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never open a window
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise missing_dependency("matplotlib", "classifier") from e
    names = [r["subject"] for r in rows]
    xs = range(len(rows))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(rows) + 2), 4.2))
    for offset, key, ci, label in ((-width / 2, "acc_a", "ci_a", label_a), (width / 2, "acc_b", "ci_b", label_b)):
        vals = [r[key] for r in rows]
        # max(0, ...): at 0% or 100% the interval's end can differ from the value by rounding noise.
        err = [[max(0.0, v - r[ci][0]) for v, r in zip(vals, rows)],
               [max(0.0, r[ci][1] - v) for v, r in zip(vals, rows)]]
        ax.bar([x + offset for x in xs], vals, width, yerr=err, capsize=3, label=label[:48])
    for x, r in zip(xs, rows):
        ax.text(x, 1.02, f"p={r['p_value']:.2g}", ha="center", fontsize=7)
    ax.set_xticks(list(xs), [f"{n}\n(n={r['n']})" for n, r in zip(names, rows)], fontsize=8, rotation=0)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy (95% Wilson CI)")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    except OSError as e:
        raise ConfigError(f"cannot write chart {path}: {e}") from e
    finally:
        plt.close(fig)
    return path
