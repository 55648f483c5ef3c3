"""A fake SIP trunk on loopback that answers, rejects, rings, goes silent or closes its port.

It runs in a thread of the test process. Behaviour can change at any time:

- ``mode = "answer"``: 100, 180 (after ``ring_delay`` seconds), then 200 with SDP ``answer_delay``
  seconds after the 180; the far end (FreeSWITCH) ends the call with BYE, or the gateway does
  ``hangup_after`` seconds after answering when that is set;
- ``mode = "reject"``: 100 then the final ``reject_code`` (OPTIONS still 200), with a
  ``Reason:`` header when ``reject_reason`` is set (``"Q.850;cause=34"``);
- ``mode = "ring"``: 100 and 180, never answers (CANCEL gets 200 + 487);
- ``mode = "silent"``: reads everything, answers nothing (INVITE or OPTIONS);
- ``close()`` / ``reopen()``: the port itself goes away (ICMP port unreachable)
  and comes back on the same port.

Every INVITE is recorded (``invites``: R-URI user, From user, headers).
"""

import socket
import threading
import time

from . import sip
from .net import free_port


class Invite:
    """What one INVITE looked like when it reached the gateway."""

    def __init__(self, message, when):
        self.call_id = message.call_id
        self.uri_user = message.uri_user
        self.from_user = sip.user_of(message.get("from", ""))
        self.headers = list(message.headers)
        self.when = when
        self.final = None  # the final code the gateway sent
        self.cancelled = False
        self.acked = False
        self.bye = False
        self.hung_up = False  # the gateway sent the BYE (hangup_after)

    def header(self, name):
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


class FakeGateway:
    """One fake trunk: ``FakeGateway("gw1").start()``; ``host``/``port`` is where it listens."""

    def __init__(self, name, host="127.0.0.1", port=None, mode="answer", reject_code=503,
                 answer_delay=0.0, options_code=200, reject_reason=None, hangup_after=None, ring_delay=0.0):
        self.name = name
        self.host = host
        self.port = port or free_port()
        self.mode = mode
        self.reject_code = reject_code
        self.reject_reason = reject_reason
        self.hangup_after = hangup_after
        self.answer_delay = answer_delay
        self.ring_delay = ring_delay  # seconds from the INVITE to the 180 (a post-dial delay)
        self.options_code = options_code
        self.invites = []
        self.options = 0
        self.rtp_port = None
        self._lock = threading.Lock()
        self._sock = None
        self._rtp = None
        self._thread = None
        self._timers = []
        self._by_call = {}

    # -- life cycle -------------------------------------------------------------
    def start(self):
        self._rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._rtp.bind((self.host, 0))
        self.rtp_port = self._rtp.getsockname()[1]
        self._open()
        return self

    def _open(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((self.host, self.port))
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name="gateway-%s" % self.name)
        self._thread.start()

    def close(self):
        """Close the SIP port: FreeSWITCH's OPTIONS then get ICMP port unreachable."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    def reopen(self):
        if self._sock is None:
            self._open()

    def stop(self):
        self.close()
        for timer in list(self._timers):
            timer.cancel()
        if self._rtp is not None:
            self._rtp.close()
            self._rtp = None

    @property
    def is_open(self):
        return self._sock is not None

    # -- what it saw ----------------------------------------------------------
    def reset(self):
        with self._lock:
            self.invites = []
            self.options = 0

    def invite_count(self):
        with self._lock:
            return len(self.invites)

    def uri_users(self):
        with self._lock:
            return [i.uri_user for i in self.invites]

    # -- serving ---------------------------------------------------------------
    def _serve(self, sock):
        while self._sock is sock:
            try:
                data, addr = sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            message = sip.parse(data)
            if message is None or message.method is None:
                continue  # responses to our BYEs and junk
            try:
                self._handle(sock, message, addr)
            except OSError:
                return

    def _send(self, sock, data, addr):
        try:
            sock.sendto(data, addr)
        except OSError:
            pass

    def _handle(self, sock, msg, addr):
        method = msg.method
        if self.mode == "silent":
            if method == "INVITE":
                self._record(msg)
            return
        if method == "OPTIONS":
            with self._lock:
                self.options += 1
            self._send(sock, sip.response(msg, self.options_code, "OK" if self.options_code == 200 else "Nope"), addr)
        elif method == "INVITE":
            self._invite(sock, msg, addr)
        elif method == "ACK":
            call = self._by_call.get(msg.call_id)
            if call is not None:
                call.acked = True
        elif method == "BYE":
            call = self._by_call.get(msg.call_id)
            if call is not None:
                call.bye = True
            self._send(sock, sip.response(msg, 200, "OK"), addr)
        elif method == "CANCEL":
            self._send(sock, sip.response(msg, 200, "OK"), addr)
            call = self._by_call.get(msg.call_id)
            if call is not None and call.final is None:
                call.cancelled = True
                call.final = 487
                self._send(sock, sip.response(call.request, 487, "Request Terminated", call.to_tag), addr)
        else:
            self._send(sock, sip.response(msg, 200, "OK"), addr)

    def _record(self, msg):
        invite = Invite(msg, time.monotonic())
        with self._lock:
            self.invites.append(invite)
            self._by_call[msg.call_id] = invite
        return invite

    def _invite(self, sock, msg, addr):
        known = self._by_call.get(msg.call_id)
        if known is not None:  # a retransmission or a re-INVITE: answer as before
            if known.final == 200:
                self._send(sock, self._ok(msg, known), addr)
            return
        invite = self._record(msg)
        invite.request = msg
        invite.to_tag = sip.token("gwt")
        self._send(sock, sip.response(msg, 100, "Trying"), addr)
        if self.mode == "reject":
            invite.final = self.reject_code
            reason = [("Reason", self.reject_reason)] if self.reject_reason else []
            self._send(sock, sip.response(msg, self.reject_code, "Rejected", invite.to_tag, reason), addr)
            return
        if self.ring_delay > 0:
            self._later(self.ring_delay, self._ring, (sock, invite, addr))
        else:
            self._ring(sock, invite, addr)

    def _ring(self, sock, invite, addr):
        if invite.final is not None or self._sock is not sock:
            return
        self._send(sock, sip.response(invite.request, 180, "Ringing", invite.to_tag), addr)
        if self.mode == "ring":
            return
        if self.answer_delay <= 0:
            self._answer(sock, invite, addr)
        else:
            self._later(self.answer_delay, self._answer, (sock, invite, addr))

    def _later(self, seconds, action, args):
        timer = threading.Timer(seconds, action, args)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _ok(self, msg, invite):
        contact = [("Contact", "<sip:%s@%s:%d>" % (self.name, self.host, self.port))]
        return sip.response(msg, 200, "OK", invite.to_tag, contact, sip.sdp(self.host, self.rtp_port))

    def _answer(self, sock, invite, addr):
        if invite.final is not None or self._sock is not sock:
            return
        invite.final = 200
        self._send(sock, self._ok(invite.request, invite), addr)
        if self.hangup_after is not None:
            timer = threading.Timer(self.hangup_after, self._bye, (sock, invite, addr))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()

    def _bye(self, sock, invite, addr):
        """The gateway hangs up: a BYE in the dialog FreeSWITCH's INVITE opened."""
        if invite.bye or self._sock is not sock:
            return
        request = invite.request
        target = request.get("contact", "").split("<", 1)[-1].split(">", 1)[0]
        headers = [("Via", "SIP/2.0/UDP %s:%d;rport;branch=z9hG4bK%s" % (self.host, self.port, sip.token())),
                   ("Max-Forwards", "70"), ("From", request.get("to", "") + ";tag=" + invite.to_tag),
                   ("To", request.get("from", "")), ("Call-ID", request.call_id), ("CSeq", "1 BYE")]
        invite.hung_up = True
        self._send(sock, sip.build("BYE %s SIP/2.0" % target, headers), addr)
