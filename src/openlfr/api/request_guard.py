"""What every request passes before a route sees it: a body size limit and strict JSON.

- **Size.** A body larger than ``server.max_request_bytes`` (``server.max_json_bytes`` for JSON) is refused
  with 413 before anything parses it: by its ``Content-Length`` when it declares one, otherwise as soon as
  the bytes received pass the limit.
- **Strict JSON.** Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON) and
  lone UTF-16 surrogates such as ``"\\ud800"`` (which cannot be stored or sent as UTF-8), and fails with a
  ``RecursionError`` on deeply nested arrays. Each of those reached a route or a driver and ended in a 500.
  Here they are refused with 422, in FastAPI's own validation-error shape.

A pure ASGI middleware (no ``BaseHTTPMiddleware``): the body is read once, checked, then replayed to the
application; WebSocket connections pass untouched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def json_problem(raw: bytes) -> str | None:
    """Why ``raw`` is not strict JSON that openlfr accepts, or None (also None for malformed JSON, which
    FastAPI itself answers with 422)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the JSON body is not UTF-8 (byte {exc.start})"
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except _NotJson as exc:
        return str(exc)
    except RecursionError:
        return "the JSON body is nested too deeply"
    except ValueError:
        return None  # malformed: FastAPI reports where
    # Walk without recursion (a deep but parseable document must not exhaust the stack here either).
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"the JSON body holds a lone surrogate \\u{ord(item[exc.start]):04x}, not text"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _is_json(content_type: str) -> bool:
    # FastAPI parses the body as JSON when there is no content type, or it is application/json or */*+json.
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        not media
        or media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
    )


async def _answer(send: Send, status: int, detail: Any) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware: body size limit and strict JSON (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_json_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_bytes = max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        is_json = _is_json(headers.get("content-type", ""))
        limit = self.max_json_bytes if is_json else self.max_bytes
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _answer(send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _answer(send, 413, f"the request body is larger than {limit} bytes")
                return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nothing to answer
            body += message.get("body", b"")
            if len(body) > limit:
                await _answer(send, 413, f"the request body is larger than {limit} bytes")
                return
            more = bool(message.get("more_body", False))
        if is_json and body:
            problem = json_problem(bytes(body))
            if problem is not None:
                await _answer(send, 422, [{"type": "json_invalid", "loc": ["body"], "msg": problem}])
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as the server's own receive does

        await self.app(scope, replay, send)
