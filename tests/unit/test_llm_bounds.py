"""What a server sends is bounded before it is stored: token counts are sane integers, and a response body is
capped after decompression (a gzip bomb does not take the process's memory)."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from scireflect.errors import ProviderError
from scireflect.llm import MAX_TOKEN_COUNT, token_count


@pytest.mark.parametrize("value,expected", [
    (12, 12), (10**30, MAX_TOKEN_COUNT), (-5, 0), ("17", 17), ("-3", 0), ("lots", 0), (None, 0), (True, 0),
    (3.7, 3), (float("nan"), 0), (float("inf"), MAX_TOKEN_COUNT), ("9" * 40, MAX_TOKEN_COUNT), ([1], 0),
])
def test_token_counts_are_sanitised(value: Any, expected: int) -> None:
    assert token_count(value) == expected


class _Handler(BaseHTTPRequestHandler):
    mode = "usage"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.mode == "bomb":  # type: ignore[attr-defined]
            body = gzip.compress(b'{"choices": [{"message": {"content": "' + b"0" * (40 * 1024 * 1024) + b'"}}]}')
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
        else:
            body = json.dumps({"choices": [{"message": {"content": "42"}, "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 10**30, "completion_tokens": -7}}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.mode = "usage"  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


def _model(srv: ThreadingHTTPServer) -> Any:
    from scireflect.llm_http import HttpChatModel

    return HttpChatModel(model="m", base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1", api_key="k",
                         temperature=0.0, max_tokens=8, seed=0, timeout=30)


def test_absurd_usage_from_a_server_is_stored_sanely(server: ThreadingHTTPServer) -> None:
    from langchain_core.messages import HumanMessage

    text, tin, tout, _, _ = asyncio.run(_model(server).acomplete([HumanMessage(content="hi")]))
    assert (text, tin, tout) == ("42", MAX_TOKEN_COUNT, 0)
    msg = _model(server).invoke([HumanMessage(content="hi")])
    assert msg.usage_metadata["input_tokens"] == MAX_TOKEN_COUNT and msg.usage_metadata["output_tokens"] == 0


def test_a_gzip_bomb_is_refused_not_inflated(server: ThreadingHTTPServer) -> None:
    from langchain_core.messages import HumanMessage

    server.mode = "bomb"  # type: ignore[attr-defined]
    with pytest.raises(ProviderError, match="larger than"):
        asyncio.run(_model(server).acomplete([HumanMessage(content="hi")]))
    with pytest.raises(ProviderError, match="larger than"):
        _model(server).invoke([HumanMessage(content="hi")])
