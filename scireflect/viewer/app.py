"""``scireflect traces serve``: a local, read-only web viewer over the trace store (FastAPI + Jinja).

Safe by default: it binds 127.0.0.1, answers GET and HEAD only, checks the Host header against the
loopback names (so a web page elsewhere cannot reach it through DNS rebinding), escapes every stored
text and sends a Content-Security-Policy that allows no inline script.
"""

# No "from __future__ import annotations": FastAPI resolves route annotations (Request) at runtime,
# and they are imported inside create_app, where fastapi being optional allows.
import ipaddress
import socket
import sys
import time
from typing import Any, Callable

from scireflect.errors import ConfigError, missing_dependency
from scireflect.settings import Settings
from scireflect.viewer.assets import SERVER_CSP, STATIC, missing_assets
from scireflect.viewer.pages import Page, Pages

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
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


def create_app(source: Any, *, allowed_hosts: tuple[str, ...] | None = None) -> Any:
    """The ASGI app over ``source``: Settings (the store is opened and migrated) or open Stores.
    ``allowed_hosts`` limits the Host header (``serve`` passes the loopback names); None allows any."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import HTMLResponse, JSONResponse
        from fastapi.staticfiles import StaticFiles
    except ImportError as e:
        raise missing_dependency(e.name or "fastapi", "viewer") from e
    missing = missing_assets()
    if missing:
        raise ConfigError(f"viewer assets missing from the installed package: {', '.join(missing)}; "
                          "reinstall scireflect")
    if isinstance(source, Settings):
        from scireflect.store import open_stores

        source = open_stores(source)
    pages = Pages(source)
    app = FastAPI(title="scireflect trace viewer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.stores = source
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    def get(path: str) -> Callable[..., Any]:
        return app.api_route(path, methods=["GET", "HEAD"], response_class=HTMLResponse)

    def respond(page: Page) -> HTMLResponse:
        return HTMLResponse(page.html, status_code=page.status, headers=page.headers)

    @get("/")
    @get("/traces")
    def trace_list(request: Request) -> HTMLResponse:
        return respond(pages.trace_list(request.query_params))

    @get("/runs")
    def run_list() -> HTMLResponse:
        return respond(pages.runs())

    @get("/traces/{trace_id}")
    def trace_page(trace_id: str) -> HTMLResponse:
        return respond(pages.trace(trace_id))

    @get("/traces/{trace_id}/export.html")
    def trace_export(trace_id: str) -> HTMLResponse:
        return respond(pages.export(trace_id))

    @app.api_route("/healthz", methods=["GET", "HEAD"])
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

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
