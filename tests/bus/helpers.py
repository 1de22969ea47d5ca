"""What the bus tests share: a central consumer in a thread, and counts of alerts sent vs stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from sqlalchemy import select

from openlfr.config import Settings
from openlfr.governance.bus import BusNames
from openlfr.governance.bus_consumer import CentralConsumer
from openlfr.store.models import Alert


@contextmanager
def central_thread(store: Any, settings: Settings, name: str = "central-test") -> Iterator[CentralConsumer]:
    consumer = CentralConsumer(store, settings, name=name)
    stop = threading.Event()
    t = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    t.start()
    try:
        yield consumer
    finally:
        stop.set()
        t.join(timeout=10)


def sent_alert_ids(settings: Settings) -> list[str]:
    """Alert ids of every entry on the alerts stream (a redelivered or re-sent alert appears twice)."""
    r = redis.Redis.from_url(str(settings.bus.url))
    entries = r.xrange(BusNames.of(settings.bus).alerts)
    return [f[b"id"].decode() for _, f in entries]


def stored_alert_ids(store: Any, deployment_id: str) -> list[str]:
    with store.session() as s:
        return list(s.scalars(select(Alert.id).where(Alert.deployment_id == deployment_id)))


def wait_until_stored(
    store: Any, settings: Settings, deployment_id: str, timeout: float = 30, min_sent: int = 1
) -> tuple[set[str], list[str]]:
    """Wait until at least ``min_sent`` alerts were sent and all are stored; returns ``(ids sent, ids stored)``."""
    end = time.monotonic() + timeout
    while True:
        sent = set(sent_alert_ids(settings))
        stored = stored_alert_ids(store, deployment_id)
        if (len(sent) >= min_sent and sent <= set(stored)) or time.monotonic() > end:
            return sent, stored
        time.sleep(0.2)
