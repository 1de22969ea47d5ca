"""``/api/alerts/ws``: alerts pushed to consoles as they are raised, with catch-up on reconnect.

The client connects with ``?after=<the last seq it saw>`` (0 at first) and optionally
``deployment_id``. The server first subscribes to the broker, then sends every stored alert after
``after`` (the catch-up), then each new one, skipping any it already sent, so nothing raised while the
client was away is missed and nothing is sent twice. Messages are JSON: ``{"type": "alert", "alert": {...}}``
and a ``{"type": "ready", "last_seq": N}`` once the catch-up is done; then ``{"type": "update", "alert":
{...}}`` whenever someone decides on an alert (its new state, and ``decided_by``).

Browsers authenticate with the session cookie; the Origin header must be this server (a page on another
site cannot open the socket with the officer's cookie). Other clients send ``Authorization: Bearer``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from openlfr.api import roles
from openlfr.api.broker import AlertBroker
from openlfr.api.deps import MAX_SQL_INT, SESSION_COOKIE
from openlfr.api.users import Principal, resolve
from openlfr.api.views import alert_messages_after
from openlfr.store import Store

router = APIRouter()

POLICY_VIOLATION = 1008


def _principal(ws: WebSocket, store: Store) -> Principal | None:
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return resolve(store, header[7:].strip(), "bearer")
    cookie = ws.cookies.get(SESSION_COOKIE)
    if cookie is None:
        return None
    origin = ws.headers.get("origin")
    host = ws.headers.get("host", "")
    if origin is not None and origin.split("://", 1)[-1] != host:
        return None
    return resolve(store, cookie, "cookie")


@router.websocket("/api/alerts/ws")
async def alerts_ws(ws: WebSocket, after: int = 0, deployment_id: str | None = None) -> None:
    store: Store = ws.app.state.store
    broker: AlertBroker = ws.app.state.broker
    principal = await asyncio.to_thread(_principal, ws, store)
    if principal is None or principal.role not in roles.RECEIVE_ALERTS:
        await ws.close(code=POLICY_VIOLATION, reason="log in with a role that receives alerts")
        return
    await ws.accept()
    sub = broker.subscribe(deployment_id)
    sent = min(max(0, after), MAX_SQL_INT)
    try:
        backlog: list[dict[str, Any]] = await asyncio.to_thread(
            alert_messages_after, store, sent, deployment_id, 5000
        )
        for message in backlog:
            await ws.send_json({"type": "alert", "alert": message})
            sent = max(sent, int(message["seq"]))
        await ws.send_json({"type": "ready", "last_seq": sent})
        receiver = asyncio.create_task(_drain_client(ws))
        try:
            while not receiver.done():
                getter = asyncio.create_task(sub.queue.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                message = getter.result()
                if message.pop("update", False):  # a decision on an alert the console may show
                    await ws.send_json({"type": "update", "alert": message})
                    continue
                if int(message["seq"]) <= sent:
                    continue
                await ws.send_json({"type": "alert", "alert": message})
                sent = int(message["seq"])
                if sub.overflowed:  # fell too far behind: let the client reconnect and catch up
                    break
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver
    except WebSocketDisconnect:
        pass
    finally:
        broker.unsubscribe(sub)
        if ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


async def _drain_client(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed at once."""
    while True:
        await ws.receive_text()
