"""The optional HTTP metrics endpoint (``defaults.metrics_listen``), served by one background thread.

Inside FreeSWITCH this thread shares the interpreter with call threads; it
holds the GIL only while it renders a page (the instruments' locks are held
for copies only), and a client whose request is not in within CLIENT_TIMEOUT
is cut off (however slowly it trickles in), so neither a call nor the next
scrape is kept waiting by it. mod_python3 cannot be unloaded on its own
(it loads as NOUNLOAD); it goes when FreeSWITCH shuts down, and then
``freeswitch.running()`` turns false first: the thread checks it every
POLL_SECONDS, closes its socket and ends. It is a daemon thread, so it can
never hold up the interpreter's finalisation either.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from fsroute.core.text import describe_error
from .fslog import ERROR, INFO, log, switch_running

POLL_SECONDS = 0.1
CLIENT_TIMEOUT = 2.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Render = Callable[[], str]


class _Handler(BaseHTTPRequestHandler):
    timeout = CLIENT_TIMEOUT

    server: _Server

    def setup(self) -> None:
        super().setup()
        # the socket's timeout bounds each read only: a byte a second would hold the one thread for ever
        self._cutoff = threading.Timer(CLIENT_TIMEOUT, self._cut_off)
        self._cutoff.daemon = True
        self._cutoff.start()

    def _cut_off(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)  # the blocked read returns: the request ends
        except OSError:
            pass

    def finish(self) -> None:
        self._cutoff.cancel()
        super().finish()

    def do_GET(self) -> None:
        self._cutoff.cancel()  # the request is in: the answer is not cut short
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

    def get_request(self) -> Tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in _OUT_OF_RESOURCES:  # the connection stays waiting, the socket readable: no spin
                time.sleep(POLL_SECONDS)
            raise


# accept() failing for want of descriptors or memory: the client is not taken, so select answers at once
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class MetricsServer:
    """Serves ``render()`` at http://HOST:PORT/metrics until ``stop()`` or FreeSWITCH shuts down."""

    def __init__(self, host: str, port: int, render: Render) -> None:
        self.address = (host, port)
        self._server = _Server(self.address, render)  # binds now: a busy port fails here, not in the thread
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fsroute-metrics", daemon=True)
        try:
            self._thread.start()
        except Exception:
            self._server.server_close()
            raise

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def _serve(self) -> None:
        self._server.timeout = POLL_SECONDS
        try:
            while not self._stopping.is_set():
                if not switch_running():
                    log(INFO, "fsroute: FreeSWITCH is shutting down; metrics endpoint on %s:%d closed"
                        % self.address)
                    break
                try:
                    self._server.handle_request()
                except (OSError, ValueError):  # stop() closed the socket under it
                    break
        finally:
            self._server.server_close()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """End the thread (within POLL_SECONDS, or once the request it serves is over) and close the
        socket now, so that the address is free for the next endpoint at once."""
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(POLL_SECONDS * 4)
        self._server.server_close()


_servers: Dict[Tuple[str, int], MetricsServer] = {}
_lock = threading.Lock()


def serve(listens: Iterable[Tuple[str, int]], render: Optional[Render]) -> List[MetricsServer]:
    """Make the endpoint listen on every address of ``listens`` ((host, port) pairs) and on no other.

    The endpoint belongs to the process, not to one rules file: the union of
    what every rules file in force asks for is served, and an address no
    file asks for any more is closed. A port that cannot be bound is logged
    once per call of this function (one per load of a rules file).
    """
    wanted: Set[Tuple[str, int]] = set((host, port) for host, port in listens) if render is not None else set()
    with _lock:
        for address in [a for a, server in _servers.items() if a not in wanted or not server.alive()]:
            _servers.pop(address).stop()
        for host, port in sorted(wanted - set(_servers)):
            assert render is not None
            try:
                server = _servers[(host, port)] = MetricsServer(host, port, render)
            except Exception as exc:  # a busy port, no threads left: calls go on without the endpoint
                log(ERROR, "fsroute: cannot serve metrics on %s:%d: %s"
                    % (host, port, getattr(exc, "strerror", None) or describe_error(exc)))
                continue
            log(INFO, "fsroute: metrics at http://%s:%d/metrics" % (host, server.port))
        return [_servers[a] for a in sorted(_servers)]


def stop() -> None:
    """Stop every endpoint (tests; FreeSWITCH's shutdown stops them by itself)."""
    serve((), None)
