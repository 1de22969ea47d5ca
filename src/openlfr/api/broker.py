"""Alert fan-out to connected consoles.

The alert store is the single source of truth: the broker polls it for alerts newer than the last one it
has seen (``seq`` orders them) and hands each to every subscriber's queue. Polling the database rather
than trusting an in-process callback means alerts raised by any process (a camera worker on the van, the
``openlfr live`` command, this server's own live runner) reach the console the same way, and a console that
reconnects catches up from the same table with ``after=<last seq it saw>``. In-process raisers call
:meth:`AlertBroker.wake` so the poll runs at once instead of at the next tick.

The messages carry no image: only the alert's summary and the URLs of its images, which the console
fetches with its own credentials (each fetch checked and audited).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openlfr.store import Store

log = logging.getLogger(__name__)

AlertMessage = dict[str, Any]


@dataclass(eq=False)
class Subscription:
    """One console connection's queue, optionally limited to one deployment."""

    deployment_id: str | None = None
    queue: asyncio.Queue[AlertMessage] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflowed: bool = False

    def offer(self, message: AlertMessage) -> None:
        if self.deployment_id and message.get("deployment_id") != self.deployment_id:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A stuck client must not hold up the others; it reconnects and catches up from the store.
            self.overflowed = True


class AlertBroker:
    def __init__(
        self,
        store: Store,
        fetch: Callable[[Store, int], list[AlertMessage]] | None = None,
        poll_interval_s: float = 0.1,
    ) -> None:
        self.store = store
        self._fetch = fetch or fetch_alert_messages
        self.poll_interval_s = poll_interval_s
        self.subscribers: set[Subscription] = set()
        self.listeners: list[Callable[[AlertMessage], Any]] = []
        self.last_seq = 0
        # Decisions are followed through the audit log (where every one is appended, by any process).
        self.last_audit_seq = 0
        self._following_decisions = False
        """Whether ``last_audit_seq`` is current: only while a console is connected (no query otherwise)."""
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.last_seq = await asyncio.to_thread(latest_seq, self.store)
        self.last_audit_seq = await asyncio.to_thread(latest_audit_seq, self.store)
        self._task = asyncio.create_task(self._run(), name="alert-broker")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    def wake(self) -> None:
        """Poll now (thread-safe: the live pipeline's threads call it after raising an alert)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def subscribe(self, deployment_id: str | None = None) -> Subscription:
        sub = Subscription(deployment_id)
        if not self.subscribers and not self._following_decisions:
            # The first console: follow decisions from now (one indexed max(), so none slips between).
            self.last_audit_seq = latest_audit_seq(self.store)
            self._following_decisions = True
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    async def poll_once(self) -> int:
        messages = await asyncio.to_thread(self._fetch, self.store, self.last_seq)
        for message in messages:
            self.last_seq = max(self.last_seq, int(message["seq"]))
            for sub in list(self.subscribers):
                sub.offer(message)
            for listener in self.listeners:
                try:
                    result = listener(message)
                    if asyncio.iscoroutine(result):
                        task = asyncio.create_task(result)
                        self._pending.add(task)  # keep a reference until done (tasks are weakly held)
                        task.add_done_callback(self._pending.discard)
                except Exception:  # a failing listener (webhook) must not stop the console feed
                    log.exception("alert listener failed")
        if not self.subscribers:
            # Nobody to tell, so nothing is read: a console that connects later reads the alerts' state as
            # they are then, and decisions are followed from that point on.
            self._following_decisions = False
        else:
            # Decisions by anyone update the open consoles (never the webhooks: they carry new alerts).
            self.last_audit_seq, updates = await asyncio.to_thread(
                decision_updates, self.store, self.last_audit_seq
            )
            for update in updates:
                for sub in list(self.subscribers):
                    sub.offer({**update, "update": True})
        return len(messages)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly locked or restarting: try again next tick
                log.exception("polling the alert store failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
            self._wake.clear()


def latest_seq(store: Store) -> int:
    from openlfr.api.views import latest_alert_seq

    return latest_alert_seq(store)


def latest_audit_seq(store: Store) -> int:
    from openlfr.api.views import latest_audit_seq as latest

    return latest(store)


def decision_updates(store: Store, after_seq: int) -> tuple[int, list[AlertMessage]]:
    from openlfr.api.views import decision_updates_after

    return decision_updates_after(store, after_seq)


def fetch_alert_messages(store: Store, after_seq: int) -> list[AlertMessage]:
    from openlfr.api.views import alert_messages_after

    return alert_messages_after(store, after_seq)
