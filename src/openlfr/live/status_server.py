"""A tiny stdlib HTTP server for ``openlfr run --metrics-port``: ``/metrics`` (Prometheus text) and
``/metrics.json``. It binds to 127.0.0.1 by default and serves counts and timings only (rule 3)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openlfr.live.metrics import SourceMetrics, metrics_json, prometheus_text


def serve_metrics(
    sources: Callable[[], Sequence[SourceMetrics]], port: int, host: str = "127.0.0.1"
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; call ``.shutdown()`` on the result to stop."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it so
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, kind = prometheus_text(sources()), "text/plain; version=0.0.4"
            elif path == "/metrics.json":
                body, kind = metrics_json(sources()), "application/json"
            else:
                self.send_error(404, "try /metrics or /metrics.json")
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # keep requests out of the logs
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="lfr-metrics", daemon=True).start()
    return server
