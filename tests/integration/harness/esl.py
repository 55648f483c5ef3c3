"""FreeSWITCH's event socket (inbound mode): ``api`` commands over one TCP connection.

One connection answers thousands of ``api`` commands a second, where each
``fs_cli -x`` would be a process spawn and a login.
"""

import socket
import threading


class ESLError(Exception):
    pass


class ESL:
    """``ESL(port).api("status")`` -> the command's output text. Thread-safe (one lock)."""

    def __init__(self, port, host="127.0.0.1", password="ClueCon", timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        self._lock = threading.Lock()
        headers, _ = self._read_message()
        if headers.get("Content-Type") != "auth/request":
            raise ESLError("no auth request from the event socket: %r" % headers)
        self._send("auth %s" % password)
        headers, _ = self._read_message()
        if not headers.get("Reply-Text", "").startswith("+OK"):
            raise ESLError("event socket refused the password: %r" % headers)

    def close(self):
        try:
            self._send("exit")
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def api(self, command):
        """Run an API command; returns its body ('' for an empty answer)."""
        if "\n" in command:
            raise ValueError("one line only")
        with self._lock:
            self._send("api %s" % command)
            while True:
                headers, body = self._read_message()
                if headers.get("Content-Type") == "api/response":
                    return body.decode("utf-8", "replace")

    def _send(self, line):
        self.sock.sendall(line.encode() + b"\n\n")

    def _read_message(self):
        while b"\n\n" not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(b"\n\n", 1)
        headers = {}
        for line in head.decode("utf-8", "replace").split("\n"):
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        length = int(headers.get("Content-Length", "0") or 0)
        while len(self._buffer) < length:
            self._fill()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return headers, body

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ESLError("event socket closed")
        self._buffer += data
