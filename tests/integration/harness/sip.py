"""Just enough SIP (RFC 3261 over UDP) for a caller and fake gateways on loopback."""

import itertools
import os

_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
            "l": "content-length", "c": "content-type", "k": "supported"}
_counter = itertools.count(1)


def token(prefix=""):
    """A unique tag / branch / Call-ID part."""
    return "%s%s%d" % (prefix, os.urandom(4).hex(), next(_counter))


class Message:
    """A parsed SIP request or response: ``method`` or ``code``, headers in order, body."""

    def __init__(self, first_line, headers, body=""):
        self.first_line = first_line
        self.headers = headers  # [(lower-case name, value)]
        self.body = body
        parts = first_line.split(" ", 2)
        if parts[0].startswith("SIP/"):
            self.method, self.uri = None, None
            self.code = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
        else:
            self.method, self.uri = parts[0], parts[1]
            self.code, self.reason = None, None

    def get(self, name, default=None):
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def call_id(self):
        return self.get("call-id", "")

    @property
    def cseq(self):
        number, _, method = self.get("cseq", "0 ?").partition(" ")
        return int(number), method.strip()

    @property
    def uri_user(self):
        """The user part of the request URI (``sip:USER@host``)."""
        uri = (self.uri or "").split(":", 1)[-1]
        return uri.split("@", 1)[0] if "@" in uri else ""


def parse(data):
    """A Message from one UDP datagram (bytes), or None when it is not SIP."""
    text = data.decode("utf-8", "replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines or not lines[0]:
        return None
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            continue
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers.append((_COMPACT.get(name, name), value.strip()))
    try:
        return Message(lines[0], headers, body)
    except (ValueError, IndexError):
        return None


def build(first_line, headers, body=""):
    """Bytes of a SIP message; Content-Length is added."""
    lines = [first_line] + ["%s: %s" % h for h in headers]
    lines.append("Content-Length: %d" % len(body.encode()))
    # surrogateescape: a test may send bytes that are not UTF-8 ("\udcff" goes out as the byte 0xff)
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8", "surrogateescape")


def response(request, code, reason, to_tag=None, extra=(), body=""):
    """A response to ``request`` copying Via, From, To (+ tag), Call-ID and CSeq."""
    headers = [("Via", v) for v in request.all("via")]
    to = request.get("to", "")
    if to_tag and ";tag=" not in to:
        to += ";tag=" + to_tag
    headers += [("From", request.get("from", "")), ("To", to),
                ("Call-ID", request.call_id), ("CSeq", request.get("cseq", ""))]
    headers += list(extra)
    if body:
        headers.append(("Content-Type", "application/sdp"))
    return build("SIP/2.0 %d %s" % (code, reason), headers, body)


def sdp(host, port, session_id=1):
    """An audio offer/answer with PCMU only."""
    return ("v=0\r\no=fsroute-test %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n" % (session_id, host, host, port))


def tag_of(header):
    """The ``tag`` parameter of a From/To header value, or ''."""
    for part in header.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "tag":
            return value.strip()
    return ""


def user_of(header):
    """The user part of a From/To header's URI."""
    start = header.find("sip:")
    if start < 0:
        return ""
    rest = header[start + 4:]
    return rest.split("@", 1)[0] if "@" in rest.split(">", 1)[0] else ""
