"""Free loopback ports, chosen at start so parallel runs do not collide."""

import socket


def free_port(kind=socket.SOCK_DGRAM, host="127.0.0.1", also_tcp=False):
    """A port free for ``kind`` on ``host`` (and for TCP too when ``also_tcp``)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if not also_tcp or _free(port, socket.SOCK_STREAM, host):
            if kind == socket.SOCK_STREAM or _free(port, socket.SOCK_DGRAM, host):
                return port
    raise RuntimeError("no free port on %s" % host)


def free_range(count, host="127.0.0.1", start=20000, stop=60000, step=997):
    """The first port of ``count`` consecutive UDP ports that are all free (for RTP)."""
    for base in range(start, stop - count, step):
        if all(_free(p, socket.SOCK_DGRAM, host) for p in range(base, base + count)):
            return base
    raise RuntimeError("no %d free consecutive UDP ports on %s" % (count, host))


def _free(port, kind, host):
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
