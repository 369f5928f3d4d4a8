"""Trace viewer web app through Starlette's TestClient: pages, filters, escaping, read-only, Host check, CLI."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
from typing import Any

import pytest
from typer.testing import CliRunner

from scireflect.viewer.samples import sample_trace, store_trace

pytest.importorskip("fastapi", reason="the viewer needs the 'viewer' extra (fastapi)")
from starlette.testclient import TestClient  # noqa: E402

from scireflect.viewer.app import _host_of, create_app, is_loopback  # noqa: E402
from scireflect.viewer.pages import parse_filters  # noqa: E402

XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"
N = 60


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One workspace for the module (filling it is the slow part); the app never writes to it."""
    from scireflect.settings import Settings
    from scireflect.store import open_stores

    home = tmp_path_factory.mktemp("viewer") / "ws"
    stores = open_stores(Settings(home=home))
    for i in range(N):
        store_trace(stores, sample_trace(i, run_id="r_one" if i < 30 else "r_two"))
    store_trace(stores, sample_trace(999, status="accepted_reflection", payload=XSS))
    yield home, stores
    stores.close()


@pytest.fixture
def filled(ws: Any) -> Any:
    return ws[1]


@pytest.fixture
def client(filled: Any) -> TestClient:
    return TestClient(create_app(filled))


def _ids(html: str) -> list[str]:
    return re.findall(r'href="/traces/(t_\d+)"', html)


def test_list_paginates_newest_first(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "61 traces, page 1 of 2" in r.text
    ids = _ids(r.text)
    assert len(ids) == 50 and ids[0] == "t_000999" and ids[1] == "t_000059"
    page2 = client.get("/?page=2").text
    assert _ids(page2) == [f"t_{i:06d}" for i in range(10, -1, -1)]
    assert 'rel="prev"' in page2 and 'rel="next"' not in page2
    assert len(_ids(client.get("/?per_page=500").text)) == 61  # capped at 200 per page


@pytest.mark.parametrize(("query", "expected"), [
    ("status=rejected", {i for i in range(N) if i % 5 == 3}),
    ("stage=with_answer", {i for i in range(N) if i % 5 == 2}),
    ("subject=physics", {i for i in range(N) if i % 4 == 0}),
    ("verdict=steps%3Afail", {i for i in range(N) if i % 5 == 3}),
    ("run=r_two&status=error", {i for i in range(30, N) if i % 5 == 4}),
    ("q=variant+17%2C", {17}),
])
def test_list_filters(client, query, expected):
    html = client.get(f"/?{query}&per_page=200").text
    assert {int(t[2:]) for t in _ids(html)} == expected


def test_list_score_range(client, filled):
    html = client.get("/?min_score=0.5&max_score=0.7&per_page=200").text
    got = set(_ids(html))
    want = {r["id"] for r in filled.traces.list(limit=500) if r["gate_score"] is not None
            and 0.5 <= r["gate_score"] <= 0.7}
    assert got == want and got


def test_bad_filter_is_a_clear_400(client):
    r = client.get("/?min_score=abc")
    assert r.status_code == 400 and "min score must be a number, got &#39;abc&#39;" in r.text
    assert client.get("/?status=bogus").status_code == 400
    assert client.get("/?verdict=a%20b").status_code == 400


def test_trace_page_shows_every_node_in_order(client, filled):
    trace = filled.traces.get("t_000002")
    r = client.get("/traces/t_000002")
    assert r.status_code == 200
    nodes = re.findall(r'<section class="card event[^"]*" id="ev-(\d+)" data-node="(\w+)"', r.text)
    assert [(int(s), n) for s, n in nodes] == [(e.seq, e.node) for e in trace.events]
    assert 'id="graph-src"' in r.text and "linkStyle" in r.text and "first wrong step" in r.text
    assert "Solver → reviser" in r.text and "mechanics.pdf" in r.text and 'id="gate-summary"' in r.text
    for asset in ("vendor/katex/katex.min.js", "vendor/mermaid/mermaid.min.js", "viewer.js"):
        assert f'src="/static/{asset}"' in r.text


def test_unknown_trace_is_404_page(client):
    r = client.get("/traces/nope")
    assert r.status_code == 404 and "no trace with id &#39;nope&#39;" in r.text


def test_stored_markup_is_escaped_everywhere(client):
    for url in ("/", "/traces/t_000999", "/traces/t_000999/export.html"):
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html, url


def test_read_only(client):
    for url in ("/", "/runs", "/traces/t_000001", "/static/viewer.css", "/healthz"):
        assert client.head(url).status_code == 200, url
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        r = client.request(method, "/traces/t_000001")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_security_headers_and_server_timing(client):
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert script_src == "'self'"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert float(r.headers["server-timing"].split("dur=")[1]) >= 0


def test_host_header_check_blocks_dns_rebinding(filled):
    c = TestClient(create_app(filled, allowed_hosts=("127.0.0.1", "localhost", "::1")))
    assert c.get("/", headers={"host": "127.0.0.1:8765"}).status_code == 200
    assert c.get("/", headers={"host": "localhost"}).status_code == 200
    assert c.get("/", headers={"host": "[::1]:8765"}).status_code == 200
    assert c.get("/", headers={"host": "attacker.example:8765"}).status_code == 400


def test_static_assets_are_served_locally(client):
    for path in ("vendor/katex/katex.min.js", "vendor/katex/katex.min.css", "vendor/katex/contrib/auto-render.min.js",
                 "vendor/katex/fonts/KaTeX_Main-Regular.woff2", "vendor/mermaid/mermaid.min.js", "viewer.css"):
        r = client.get(f"/static/{path}")
        assert r.status_code == 200 and len(r.content) > 1000, path


def test_runs_page(client):
    html = client.get("/runs").text
    assert "No runs" in html  # sample traces name runs that were never created


def test_export_route_downloads_one_file(client):
    r = client.get("/traces/t_000001/export.html")
    assert r.status_code == 200 and 'filename="t_000001.html"' in r.headers["content-disposition"]


def test_export_is_self_contained_and_pins_its_scripts():
    from scireflect.viewer.export import export_html

    html = export_html(sample_trace(1, status="accepted_reflection", payload=XSS))
    markup = re.sub(r"<(script|style)>.*?</\1>", "", html, flags=re.S)
    assert not re.findall(r'(?:src|href)="(?!#|data:)', markup), "no external resource may be referenced"
    assert "url(fonts/" not in html and "data:font/woff2;base64," in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1).replace("&#39;", "'")
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 5
    for s in scripts:
        digest = base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_parse_filters():
    filters, form, err = parse_filters({"status": "rejected", "min_score": "0.25", "q": " speed ", "run": "r1"})
    assert filters == {"status": "rejected", "min_score": 0.25, "search": "speed", "run_id": "r1"} and err is None
    _, _, err = parse_filters({"max_score": "nan"})
    assert err and "max score" in err


def test_loopback_and_host_parsing():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.com")
    assert _host_of("[::1]:8765") == "::1" and _host_of("LOCALHOST:80") == "localhost" and _host_of("::1") == "::1"


# --- CLI ------------------------------------------------------------------------------------------

def test_cli_export_html(ws, home, tmp_path):
    from scireflect.cli import app

    out = tmp_path / "t.html"
    res = CliRunner().invoke(app, ["traces", "export", "t_000002", "--format", "html", "--out", str(out),
                                   "--home", str(ws[0])])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and 'id="trace-id">t_000002<' in text


def test_cli_serve_warns_for_other_hosts(ws, home, monkeypatch, capsys):
    import uvicorn

    from scireflect.settings import Settings
    from scireflect.viewer import app as viewer_app

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: seen.update(sockets=sockets))
    viewer_app.serve(Settings(home=ws[0]), host="0.0.0.0", port=0)
    err = capsys.readouterr().err
    assert "warning: serving on 0.0.0.0" in err and seen["sockets"]
    seen["sockets"][0].close()
    viewer_app.serve(Settings(home=ws[0]), host="127.0.0.1", port=0)
    assert "warning" not in capsys.readouterr().err
    seen["sockets"][0].close()


def test_cli_serve_port_in_use_is_one_line_exit_2(ws, home):
    from scireflect.cli import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = CliRunner().invoke(app, ["traces", "serve", "--port", str(port), "--home", str(ws[0])])
    assert res.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in res.output

