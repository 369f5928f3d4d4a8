"""Trace viewer in a real browser: Playwright for Python driving Debian's chromium against a live server.

Checks what only a browser can: the list page loads and filters, a trace page shows its nodes in order
with the graph drawn and KaTeX rendered, stored <script>/<img onerror> payloads never run, and an
exported file opens from file:// with no network. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
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


def _shot(pg: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"viewer-{name}.png"), full_page=True)


def _wait_rendered(pg: Any) -> None:
    pg.wait_for_selector("#graph[data-rendered]", timeout=30_000)
    pg.wait_for_selector("body[data-math=done]", timeout=30_000)


def test_list_page_loads_and_filters(page, server):
    page.goto(server + "/")
    assert page.locator("#traces tbody tr").count() == N + 1
    _shot(page, "list")
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


def test_trace_page_shows_nodes_in_order_graph_and_math(page, server):
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
    _shot(page, "trace")
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


def test_exported_html_opens_from_file_url(page, server, tmp_path):
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
    _shot(page, "export")
