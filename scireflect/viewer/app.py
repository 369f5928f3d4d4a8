"""``scireflect traces serve``: a local, read-only web viewer over the trace store (FastAPI + Jinja).

Safe by default: it binds 127.0.0.1, answers GET and HEAD only, checks the Host header against the
loopback names (so a web page elsewhere cannot reach it through DNS rebinding), escapes every stored
text and sends a Content-Security-Policy that allows no inline script.
"""

# No "from __future__ import annotations": FastAPI resolves route annotations (Request) at runtime,
# and they are imported inside create_app, where fastapi being optional allows.
import ipaddress
import math
import re
import socket
import sys
import time
from typing import Any, Callable
from urllib.parse import urlencode

from scireflect.errors import ConfigError, missing_dependency
from scireflect.settings import Settings
from scireflect.viewer.assets import CSS, JS, LIST_JS, SERVER_CSP, STATIC, missing_assets
from scireflect.viewer.render import render

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
STATUSES = ("accepted_cot", "accepted_reflection", "accepted_with_answer", "rejected", "error", "running")
STAGES = ("cot", "reflection", "with_answer")
DEFAULT_VERIFIERS = ("answer", "steps", "lean")
_VERDICT = re.compile(r"^[\w.-]+:[\w.-]+$")
_HEADERS = [(b"content-security-policy", SERVER_CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
            (b"cross-origin-resource-policy", b"same-origin")]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_of(header: str) -> str:
    """The host name of a Host header: "[::1]:8765" -> "::1", "localhost:8765" -> "localhost"."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: read-only methods, Host check, security headers, and a Server-Timing header
    with the time the app took to build the response (what bench/viewer.py reports)."""

    def __init__(self, app: Any, allowed_hosts: tuple[str, ...] | None):
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts} if allowed_hosts else None

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, "this viewer is read-only: GET and HEAD only", ((b"allow", b"GET, HEAD"),))
            return
        if self.allowed is not None:
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if _host_of(host) not in self.allowed:
                await _plain(send, 400, "unexpected Host header; open the viewer at http://127.0.0.1:PORT/")
                return
        t0 = time.perf_counter()
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"server-timing", f"app;dur={(time.perf_counter() - t0) * 1000:.2f}".encode())]
                extra.append((b"cache-control", b"public, max-age=86400" if static else b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send: Callable[..., Any], status: int, text: str,
                 headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *headers, *_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def _verifier_names() -> list[str]:
    names = set(DEFAULT_VERIFIERS)
    try:
        from scireflect.tools.verifiers import default_registry

        names |= set(default_registry().names())
    except Exception:  # noqa: BLE001 - the filter still works by typed value; the menu is a convenience
        pass
    return sorted(names)


def parse_filters(params: Any) -> tuple[dict[str, Any], dict[str, str], str | None]:
    """Store filters, the form's values, and an error for the first bad value (which is then ignored)."""
    form = {k: (params.get(k) or "").strip()[:200] for k in
            ("status", "stage", "subject", "verdict", "min_score", "max_score", "run", "q")}
    filters: dict[str, Any] = {}
    error = None
    checks = {"status": STATUSES, "stage": STAGES}
    for key, allowed in checks.items():
        if form[key] and form[key] not in allowed:
            error = error or f"unknown {key} {form[key]!r}; choose one of: {', '.join(allowed)}"
        elif form[key]:
            filters[key] = form[key]
    for key in ("min_score", "max_score"):
        if form[key]:
            try:
                value = float(form[key])
                if not math.isfinite(value):
                    raise ValueError
                filters[key] = value
            except ValueError:
                error = error or f"{key.replace('_', ' ')} must be a number, got {form[key]!r}"
    if form["verdict"]:
        if _VERDICT.match(form["verdict"]):
            filters["verdict"] = form["verdict"]
        else:
            error = error or f"verifier outcome must read NAME:ok, NAME:fail or NAME:REASON, got {form['verdict']!r}"
    if form["subject"]:
        filters["subject"] = form["subject"]
    if form["run"]:
        filters["run_id"] = form["run"]
    if form["q"]:
        filters["search"] = form["q"]
    return filters, form, error


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return min(max(int(value or default), lo), hi)
    except ValueError:
        return default


def create_app(source: Any, *, allowed_hosts: tuple[str, ...] | None = None) -> Any:
    """The ASGI app over ``source``: Settings (the store is opened and migrated) or open Stores.
    ``allowed_hosts`` limits the Host header (``serve`` passes the loopback names); None allows any."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import HTMLResponse
        from fastapi.staticfiles import StaticFiles
    except ImportError as e:
        raise missing_dependency(e.name or "fastapi", "viewer") from e
    missing = missing_assets()
    if missing:
        raise ConfigError(f"viewer assets missing from the installed package: {', '.join(missing)}; reinstall scireflect")
    if isinstance(source, Settings):
        from scireflect.store import open_stores

        source = open_stores(source)
    stores = source
    verifiers = _verifier_names()

    app = FastAPI(title="scireflect trace viewer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.stores = stores
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    def page(template: str, status: int = 200, *, js: tuple[str, ...] = (), **ctx: Any) -> HTMLResponse:
        ctx.setdefault("inline", None)
        ctx.setdefault("exported", False)
        html = render(template, css=CSS if js else ("viewer.css",), js=js, **ctx)
        return HTMLResponse(html, status_code=status)

    def get(path: str) -> Callable[..., Any]:
        return app.api_route(path, methods=["GET", "HEAD"], response_class=HTMLResponse)

    def not_found(message: str) -> HTMLResponse:
        return page("error.html", 404, code=404, title="Not found", message=message)

    @get("/")
    @get("/traces")
    def trace_list(request: Request) -> HTMLResponse:
        params = request.query_params
        filters, form, error = parse_filters(params)
        per_page = _int(params.get("per_page"), PAGE_SIZE, 1, MAX_PAGE_SIZE)
        total = stores.traces.count(**filters)
        pages = max(1, -(-total // per_page))
        page_no = _int(params.get("page"), 1, 1, pages)
        rows = stores.traces.list(**filters, limit=per_page, offset=(page_no - 1) * per_page)
        keep = {k: v for k, v in form.items() if v}
        if per_page != PAGE_SIZE:
            keep["per_page"] = str(per_page)
        link = lambda n: "/?" + urlencode({**keep, "page": n})  # noqa: E731
        options = {"statuses": STATUSES, "stages": STAGES, "subjects": stores.traces.subjects(),
                   "verdicts": [(f"{n}:{o}", f"{n} {'passed' if o == 'ok' else 'failed'}")
                                for n in verifiers for o in ("ok", "fail")]}
        if form["verdict"] and form["verdict"] not in {v for v, _ in options["verdicts"]}:
            options["verdicts"].append((form["verdict"], form["verdict"]))
        return page("list.html", 400 if error else 200, js=LIST_JS, rows=rows, total=total, page=page_no, pages=pages,
                    f=form, options=options, error=error,
                    prev_url=link(page_no - 1) if page_no > 1 else None,
                    next_url=link(page_no + 1) if page_no < pages else None)

    @get("/runs")
    def run_list() -> HTMLResponse:
        runs = stores.runs.list(limit=200)
        for r in runs:
            r["token_total"] = sum(int(v.get("in", 0)) + int(v.get("out", 0))
                                   for v in (r.get("tokens") or {}).values() if isinstance(v, dict))
        return page("runs.html", runs=runs)

    @get("/traces/{trace_id}")
    def trace_page(trace_id: str) -> HTMLResponse:
        from scireflect.viewer.trace_view import trace_view

        trace = stores.traces.get(trace_id)
        if trace is None:
            return not_found(f"no trace with id {trace_id!r} in this store")
        return page("trace.html", js=JS, v=trace_view(trace))

    @get("/traces/{trace_id}/export.html")
    def trace_export(trace_id: str) -> HTMLResponse:
        from scireflect.viewer.export import export_html

        trace = stores.traces.get(trace_id)
        if trace is None:
            return not_found(f"no trace with id {trace_id!r} in this store")
        return HTMLResponse(export_html(trace), headers={
            "content-disposition": f'attachment; filename="{re.sub(r"[^A-Za-z0-9_.-]", "_", trace.id)}.html"'})

    @app.api_route("/healthz", methods=["GET", "HEAD"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Guard(app, allowed_hosts)


def _bind(host: str, port: int) -> socket.socket:
    """Bind now, so a taken port is a one-line error rather than a server log line."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port") from e
    return sock


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the viewer until interrupted. Another host than loopback only when asked, with a warning."""
    try:
        import uvicorn
    except ImportError as e:
        raise missing_dependency("uvicorn", "viewer") from e
    loopback = is_loopback(host)
    if not loopback:
        sys.stderr.write(f"warning: serving on {host}: anyone who can reach this address can read every prompt, "
                         "answer and reference answer in the store (no login). Use the default 127.0.0.1 "
                         "unless you mean this.\n")
    app = create_app(settings, allowed_hosts=LOOPBACK_NAMES if loopback else None)
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"scireflect trace viewer on http://{shown}:{port}/ (read-only; Ctrl-C stops it)\n")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
