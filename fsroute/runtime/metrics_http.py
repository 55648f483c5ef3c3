"""The optional HTTP metrics endpoint (``defaults.metrics_listen``), served by one background thread.

Inside FreeSWITCH this thread shares the interpreter with call threads; it
holds the GIL only while it renders a page (the instruments' locks are held
for copies only), and a slow client is cut off after CLIENT_TIMEOUT, so a
call is never kept waiting by it. mod_python3 cannot be unloaded on its own
(it loads as NOUNLOAD); it goes when FreeSWITCH shuts down, and then
``freeswitch.running()`` turns false first: the thread checks it every
POLL_SECONDS, closes its socket and ends. It is a daemon thread, so it can
never hold up the interpreter's finalisation either.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Optional, Tuple

from fsroute.core.text import describe_error
from .fslog import ERROR, INFO, log, module

POLL_SECONDS = 0.1
CLIENT_TIMEOUT = 2.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Render = Callable[[], str]


class _Handler(BaseHTTPRequestHandler):
    timeout = CLIENT_TIMEOUT

    server: _Server

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404, "metrics are at /metrics")
            return
        body = self.server.render().encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would flood FreeSWITCH's log


class _Server(HTTPServer):
    def __init__(self, address: Tuple[str, int], render: Render) -> None:
        self.render = render
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-answer is no news


class MetricsServer:
    """Serves ``render()`` at http://HOST:PORT/metrics until ``stop()`` or FreeSWITCH shuts down."""

    def __init__(self, host: str, port: int, render: Render) -> None:
        self.address = (host, port)
        self._server = _Server(self.address, render)  # binds now: a busy port fails here, not in the thread
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fsroute-metrics", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def _serve(self) -> None:
        self._server.timeout = POLL_SECONDS
        try:
            while not self._stopping.is_set():
                if not _switch_running():
                    log(INFO, "fsroute: FreeSWITCH is shutting down; metrics endpoint on %s:%d closed"
                        % self.address)
                    break
                self._server.handle_request()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        """Close the socket and end the thread (within POLL_SECONDS)."""
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(POLL_SECONDS * 4)


def _switch_running() -> bool:
    freeswitch = module()
    return freeswitch is None or bool(freeswitch.running())


_server: Optional[MetricsServer] = None
_lock = threading.Lock()


def serve(listen: Optional[Tuple[str, int]], render: Optional[Render]) -> Optional[MetricsServer]:
    """Make the endpoint listen on ``listen`` ((host, port), or None for none); idempotent.

    A different address replaces the running server. A port that cannot be
    bound is logged once per call of this function (one per rules load).
    """
    global _server
    with _lock:
        if _server is not None and listen is not None and _server.address == tuple(listen) \
                and _server._thread.is_alive():
            return _server
        if _server is not None:
            _server.stop()
            _server = None
        if listen is None or render is None:
            return None
        try:
            _server = MetricsServer(listen[0], listen[1], render)
        except Exception as exc:  # a busy port, no threads left: calls go on without the endpoint
            log(ERROR, "fsroute: cannot serve metrics on %s:%d: %s"
                % (listen[0], listen[1], getattr(exc, "strerror", None) or describe_error(exc)))
            return None
        log(INFO, "fsroute: metrics at http://%s:%d/metrics" % (listen[0], _server.port))
        return _server


def stop() -> None:
    """Stop the endpoint if one runs (tests; FreeSWITCH's shutdown stops it by itself)."""
    serve(None, None)
