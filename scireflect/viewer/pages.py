"""The viewer's pages as plain functions of the store and the query: HTML and a status, no web framework.

``app.py`` maps URLs onto these; keeping them framework-free keeps them small and testable.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlencode

from scireflect.schema import TRACE_STATUSES
from scireflect.viewer.assets import CSS, JS, LIST_JS
from scireflect.viewer.render import render

PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
STATUSES = TRACE_STATUSES
STAGES = ("cot", "reflection", "with_answer")
DEFAULT_VERIFIERS = ("answer", "steps", "lean")
FORM_KEYS = ("status", "stage", "subject", "verdict", "min_score", "max_score", "run", "q")
_VERDICT = re.compile(r"^[\w.-]+:[\w.-]+$")


@dataclass
class Page:
    html: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def verifier_names() -> list[str]:
    """Verifiers for the outcome menu: the built-in names plus every registered one (plugins too)."""
    names = set(DEFAULT_VERIFIERS)
    try:
        from scireflect.tools.verifiers import default_registry

        names |= set(default_registry().names())
    except Exception:  # noqa: BLE001 - the filter still works by typed value; the menu is a convenience
        pass
    return sorted(names)


def _choice(form: dict[str, str], key: str, allowed: tuple[str, ...]) -> tuple[str | None, str | None]:
    value = form[key]
    if value and value not in allowed:
        return None, f"unknown {key} {value!r}; choose one of: {', '.join(allowed)}"
    return value or None, None


def _score(form: dict[str, str], key: str) -> tuple[float | None, str | None]:
    if not form[key]:
        return None, None
    try:
        value = float(form[key])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return None, f"{key.replace('_', ' ')} must be a number, got {form[key]!r}"
    return value, None


def parse_filters(params: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str], str | None]:
    """Store filters, the form's values, and an error for the first bad value (which is then ignored)."""
    form = {k: (params.get(k) or "").strip()[:200] for k in FORM_KEYS}
    parsed = [("status", *_choice(form, "status", STATUSES)), ("stage", *_choice(form, "stage", STAGES)),
              ("min_score", *_score(form, "min_score")), ("max_score", *_score(form, "max_score"))]
    if form["verdict"] and not _VERDICT.match(form["verdict"]):
        parsed.append(("verdict", None, "verifier outcome must read NAME:ok, NAME:fail or NAME:REASON, "
                                        f"got {form['verdict']!r}"))
    else:
        parsed.append(("verdict", form["verdict"] or None, None))
    parsed += [("subject", form["subject"] or None, None), ("run_id", form["run"] or None, None),
               ("search", form["q"] or None, None)]
    filters = {key: value for key, value, _ in parsed if value is not None}
    error = next((err for _, _, err in parsed if err), None)
    return filters, form, error


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return min(max(int(value or default), lo), hi)
    except ValueError:
        return default


class Pages:
    """Every page of the viewer over one open store. Read-only: only list/count/get are called."""

    def __init__(self, stores: Any, verifiers: list[str] | None = None):
        self.stores = stores
        self.verifiers = verifiers if verifiers is not None else verifier_names()

    def _page(self, template: str, status: int = 200, *, js: tuple[str, ...] = (), **ctx: Any) -> Page:
        html = render(template, css=CSS if js else ("viewer.css",), js=js, inline=None, exported=False, **ctx)
        return Page(html, status)

    def not_found(self, message: str) -> Page:
        return self._page("error.html", 404, code=404, title="Not found", message=message)

    def trace_list(self, params: Mapping[str, str]) -> Page:
        filters, form, error = parse_filters(params)
        per_page = _int(params.get("per_page"), PAGE_SIZE, 1, MAX_PAGE_SIZE)
        total = self.stores.traces.count(**filters)
        pages = max(1, -(-total // per_page))
        page_no = _int(params.get("page"), 1, 1, pages)
        rows = self.stores.traces.list(**filters, limit=per_page, offset=(page_no - 1) * per_page)
        keep = {k: v for k, v in form.items() if v}
        if per_page != PAGE_SIZE:
            keep["per_page"] = str(per_page)

        def link(n: int) -> str:
            return "/?" + urlencode({**keep, "page": n})

        verdicts = [(f"{n}:{o}", f"{n} {'passed' if o == 'ok' else 'failed'}")
                    for n in self.verifiers for o in ("ok", "fail")]
        if form["verdict"] and form["verdict"] not in {v for v, _ in verdicts}:
            verdicts.append((form["verdict"], form["verdict"]))
        options = {"statuses": STATUSES, "stages": STAGES, "subjects": self.stores.traces.subjects(),
                   "verdicts": verdicts}
        # Traces per status under the other filters: each a link that adds (or swaps in) that status.
        by_status = self.stores.traces.status_counts(**filters)
        others = {k: v for k, v in keep.items() if k != "status"}
        status_urls = {s: "/?" + urlencode({**others, "status": s}) for s in by_status}
        return self._page("list.html", 400 if error else 200, js=LIST_JS, rows=rows, total=total, page=page_no,
                          pages=pages, f=form, options=options, error=error, by_status=by_status,
                          status_urls=status_urls,
                          prev_url=link(page_no - 1) if page_no > 1 else None,
                          next_url=link(page_no + 1) if page_no < pages else None)

    def runs(self) -> Page:
        runs = self.stores.runs.list(limit=200)
        for r in runs:
            r["token_total"] = sum(int(v.get("in", 0)) + int(v.get("out", 0))
                                   for v in (r.get("tokens") or {}).values() if isinstance(v, dict))
        return self._page("runs.html", runs=runs)

    def trace(self, trace_id: str) -> Page:
        from scireflect.viewer.trace_view import trace_view

        trace = self.stores.traces.get(trace_id)
        if trace is None:
            return self.not_found(f"no trace with id {trace_id!r} in this store")
        return self._page("trace.html", js=JS, v=trace_view(trace))

    def export(self, trace_id: str) -> Page:
        from scireflect.viewer.export import export_html

        trace = self.stores.traces.get(trace_id)
        if trace is None:
            return self.not_found(f"no trace with id {trace_id!r} in this store")
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", trace.id)
        return Page(export_html(trace), headers={"content-disposition": f'attachment; filename="{name}.html"'})
