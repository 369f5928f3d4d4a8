"""Trace viewer in a real browser: Playwright for Python driving Debian's chromium against a live server.

Checks what only a browser can: the list page loads and filters, a trace page shows its nodes in order
with the graph drawn and KaTeX rendered, stored <script>/<img onerror> payloads never run, and an
exported file opens from file:// with no network. The screenshot tests read the list and trace pages as
a person would: they fail on raw ``<built-in method ...>`` text, a missing gate state, or math left as
LaTeX. Screenshots go to a temporary directory (SCIREFLECT_SCREENSHOTS=DIR keeps them in DIR); each
assertion message names the screenshot to look at.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from scireflect.viewer.samples import STATUSES, sample_trace, store_trace

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("SCIREFLECT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
XSS = ("<script>window.__pwned = 1; alert('script')</script>"
       "<img src=x onerror=\"window.__pwned = 2; alert('img')\"><b id=injected>bold</b>")
N = 25


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    uvicorn = pytest.importorskip("uvicorn", reason="the viewer needs the 'viewer' extra (uvicorn)")
    from scireflect.settings import Settings
    from scireflect.store import open_stores
    from scireflect.testing.process import free_port
    from scireflect.viewer.app import LOOPBACK_NAMES, create_app

    stores = open_stores(Settings(home=tmp_path_factory.mktemp("viewer-browser") / "ws"))
    for i in range(N):
        store_trace(stores, sample_trace(i))
    store_trace(stores, sample_trace(900, status="accepted_with_answer", payload=XSS))
    store_trace(stores, _bare_latex_trace())
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(stores, allowed_hosts=LOOPBACK_NAMES), host="127.0.0.1",
                                        port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "viewer did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    stores.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the 'test' extra")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("SCIREFLECT_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("viewer-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that records dialogs (dismissing them), page errors, console errors and every request."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.dialogs, pg.errors, pg.requests = [], [], []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("request", lambda r: pg.requests.append(r.url))
    yield pg
    ctx.close()


def _shot(pg: Any, shots: Path, name: str) -> Path:
    path = shots / f"viewer-{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


def _wait_rendered(pg: Any) -> None:
    pg.wait_for_selector("#graph[data-rendered]", timeout=30_000)
    pg.wait_for_selector("body[data-math=done]", timeout=30_000)


def test_list_page_loads_and_filters(page, server, shots):
    page.goto(server + "/")
    assert page.locator("#traces tbody tr").count() == N + 2
    _shot(page, shots, "list-filters")
    page.select_option("select[name=status]", "rejected")
    page.select_option("select[name=subject]", "physics")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/?*status=rejected*")
    rows = page.locator("#traces tbody tr")
    want = [i for i in range(N) if STATUSES[i % 5] == "rejected" and i % 4 == 0]
    assert rows.count() == len(want) > 0
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.status)")) == {"rejected"}
    assert page.input_value("select[name=status]") == "rejected"  # the form keeps its filters
    page.fill("input[name=q]", "variant 7,")
    page.select_option("select[name=status]", "")
    page.select_option("select[name=subject]", "")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**q=variant*")
    assert page.locator("#traces tbody tr").count() == 1
    assert not page.errors, page.errors


def test_trace_page_shows_nodes_in_order_graph_and_math(page, server, shots):
    trace = sample_trace(7)  # accepted_with_answer: the longest loop
    page.goto(f"{server}/traces/{trace.id}")
    _wait_rendered(page)
    nodes = page.locator("section.event").evaluate_all("s => s.map(e => [Number(e.dataset.seq), e.dataset.node])")
    assert nodes == [[e.seq, e.node] for e in trace.events]
    assert page.get_attribute("#graph", "data-rendered") == "done"
    assert page.locator("#graph svg .node").count() >= 7
    assert page.locator("#graph svg .taken").count() >= 7  # the path is highlighted
    assert page.locator(".katex").count() > 20 and page.locator(".katex-error").count() == 0
    assert page.locator("#question .katex").count() >= 3
    assert "\\ce{" not in page.inner_text("#ev-1")  # chemistry through KaTeX's mhchem
    assert page.locator("li.first-wrong").count() == 3  # the three failed verify rounds
    assert page.locator("table.diff ins").count() > 0
    _shot(page, shots, "trace-nodes")
    assert not page.errors, page.errors  # includes Content-Security-Policy violations
    assert all(u.startswith(server) or u.startswith("data:") for u in page.requests), page.requests


def test_stored_xss_payload_does_not_execute(page, server):
    for url in (server + "/?q=variant+900", server + "/traces/t_000900"):
        page.goto(url)
        if "/traces/" in url:
            _wait_rendered(page)
        page.wait_for_timeout(300)
        assert page.dialogs == [], f"a dialog opened on {url}"
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#injected").count() == 0
        assert page.locator("img[src=x]").count() == 0
        assert page.evaluate("[...document.scripts].every(s => !s.text.includes('__pwned'))")
        assert "<script>window.__pwned" in page.inner_text("main")  # shown as text instead


def test_exported_html_opens_from_file_url(page, server, shots, tmp_path):
    from scireflect.viewer.export import export_html

    trace = sample_trace(1, status="accepted_reflection", payload=XSS)
    path = tmp_path / "trace.html"
    path.write_text(export_html(trace), encoding="utf-8")
    page.goto(path.as_uri())
    _wait_rendered(page)
    assert page.get_attribute("#graph", "data-rendered") == "done"
    assert page.locator(".katex").count() > 10
    assert page.locator("section.event").count() == len(trace.events)
    fonts = page.evaluate("document.fonts.check('16px KaTeX_Main')")
    assert fonts, "KaTeX fonts inlined as data: URIs must load"
    assert page.dialogs == [] and page.evaluate("window.__pwned") is None
    assert all(u.startswith("file://") or u.startswith("data:") for u in page.requests), page.requests
    assert not page.errors, page.errors
    _shot(page, shots, "export")


# --- what a person sees: screenshots of the list and trace pages ------------------------------------

BARE = "The speed is $v = d/t$, so v = \\frac{120}{2} = 60.\nThe answer is \\boxed{60 km/h}"


def _bare_latex_trace() -> Any:
    """An accepted trace whose solution writes LaTeX without delimiters, as small models do."""
    t = sample_trace(950, status="accepted_cot")
    for ev in t.events:
        if ev.node == "solve":
            ev.output = {**ev.output, "text": BARE}
    t.attempts[-1].solution = BARE
    return t


# Text the reader sees that should have been typeset: LaTeX commands or $ outside KaTeX's output. Each
# .math element is cloned with its rendered .katex parts removed; what remains is plain prose.
UNRENDERED = """() => [...document.querySelectorAll('.math')].map(el => {
    const c = el.cloneNode(true);
    c.querySelectorAll('.katex, .katex-display').forEach(k => k.remove());
    return c.textContent;
}).filter(t => /\\\\(frac|dfrac|text|boxed|sqrt|ce|Delta|bar)\\b|\\$/.test(t))"""


def _read_like_a_person(pg: Any, shot: Path) -> str:
    """Checks every page must pass; returns the visible text."""
    pg.wait_for_selector("body[data-math=done]", timeout=30_000)
    text = pg.inner_text("main")
    assert "built-in method" not in text, f"raw Python method repr on the page; see {shot}"
    assert pg.locator(".katex").count() > 0, f"no math rendered; see {shot}"
    assert pg.locator(".katex-error").count() == 0, f"KaTeX could not typeset some math; see {shot}"
    raw = pg.evaluate(UNRENDERED)
    assert raw == [], f"math left as raw LaTeX: {raw[:3]}; see {shot}"
    assert not pg.errors, f"{pg.errors}; see {shot}"
    return text


def test_list_page_screenshot_shows_statuses_gate_and_math(page, server, shots):
    page.goto(server + "/?per_page=200")
    shot = _shot(page, shots, "list")
    _read_like_a_person(page, shot)
    rows = page.locator("#traces tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.status, r.querySelector('.gate-cell').innerText.trim()])")
    gated = [gate for status, gate in rows if status == "gated_out"]
    assert gated and all(re.fullmatch(r"0\.\d{3} reject", g) for g in gated), f"{gated}; see {shot}"
    passed = [gate for status, gate in rows if status.startswith("accepted_")]
    assert passed and all(re.fullmatch(r"0\.\d{3} pass", g) for g in passed), f"{passed}; see {shot}"
    assert {gate for status, gate in rows if status in ("rejected", "error")} == {"—"}, f"see {shot}"
    counts = page.inner_text("#status-counts")
    assert re.search(r"gated_out \d+", counts), f"no gated_out count in {counts!r}; see {shot}"
    page.click("#status-counts a.status-gated_out")  # the count is a filter
    page.wait_for_url("**status=gated_out*")
    shot = _shot(page, shots, "list-gated-out")
    statuses = set(page.locator("#traces tbody tr").evaluate_all("rs => rs.map(r => r.dataset.status)"))
    assert statuses == {"gated_out"}, f"{statuses}; see {shot}"
    assert page.input_value("select[name=status]") == "gated_out", f"see {shot}"


@pytest.mark.parametrize("which", ["gated_out", "accepted", "rejected", "bare_latex"])
def test_trace_page_screenshot_shows_gate_state_and_math(page, server, shots, which):
    trace = _bare_latex_trace() if which == "bare_latex" else next(
        t for t in map(sample_trace, range(N)) if t.status.startswith(which))  # one the server stores
    page.goto(f"{server}/traces/{trace.id}")
    _wait_rendered(page)
    shot = _shot(page, shots, f"trace-{which}")
    text = _read_like_a_person(page, shot)
    assert page.inner_text("#trace-status") == trace.status, f"see {shot}"
    gate = page.locator("#gate-state")
    assert gate.is_visible(), f"no gate state on the page; see {shot}"
    line = gate.inner_text()
    if trace.status == "rejected":
        assert "not reached" in line, f"{line!r}; see {shot}"
    else:
        want = f"quality gate: {trace.gate.decision} · score {trace.gate.score:.3f}"
        assert line.startswith(want), f"{line!r} should start with {want!r}; see {shot}"
    if trace.status == "gated_out":
        assert "Gated out after reaching" in text, f"the stage it reached is not said; see {shot}"
        assert page.locator("section.event[data-node=gate] .badge.gate-reject").is_visible(), f"see {shot}"
    if trace.status != "rejected":  # the verified attempt's arithmetic step shows both sides
        assert "left 60, right 60" in text, f"derivation step values missing; see {shot}"
    if which == "bare_latex":
        assert page.locator("#ev-2 .output .katex").count() >= 3, f"bare \\frac/\\boxed not typeset; see {shot}"
