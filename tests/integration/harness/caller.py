"""A SIP caller (UAC) over UDP on loopback: INVITE, ACK, BYE and CANCEL.

One UDP socket and one receive thread serve any number of concurrent calls,
so a load loop can run from a script. ``call()`` blocks; ``start_call()``
returns at once with an ``OutgoingCall`` whose ``done`` event is set when
the call is over.
"""

import socket
import threading
import time

from . import sip


class CallResult:
    """What the caller saw: the final code, the provisional codes, whether ACK/BYE went out."""

    def __init__(self, call_id, destination):
        self.call_id = call_id
        self.destination = destination
        self.code = None  # final SIP code; None if none came within the timeout
        self.reason = ""
        self.provisional = []
        self.acked = False
        self.bye_sent = False
        self.bye_code = None
        self.remote_bye = False  # FreeSWITCH hung up an answered call
        self.cancelled = False
        self.cancel_code = None
        self.started = time.monotonic()
        self.final_at = None  # when the final response came (monotonic)
        self.ended = None

    def __repr__(self):
        return "<call %s to %s: %s %s>" % (self.call_id, self.destination, self.code, self.reason)


class OutgoingCall:
    def __init__(self, caller, result, invite_headers, uri, hold, cancel_after):
        self.caller = caller
        self.result = result
        self.invite_headers = invite_headers
        self.uri = uri
        self.hold = hold
        self.cancel_after = cancel_after
        self.done = threading.Event()
        self.to_header = None
        self.remote_target = uri
        self.branch = None
        self.timers = []
        self.cancel_scheduled = False

    def wait(self, timeout):
        self.done.wait(timeout)
        return self.result


class Caller:
    """Calls into FreeSWITCH at ``target`` ((host, port)) from ``source`` (a loopback address)."""

    def __init__(self, target, source="127.0.0.1", from_user="1000"):
        self.target = tuple(target)
        self.source = source
        self.from_user = from_user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind((source, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind((source, 0))
        self.rtp_port = self.rtp.getsockname()[1]
        self.calls = {}
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._receive, daemon=True, name="caller-%s" % source)
        self._thread.start()

    def close(self):
        self._running = False
        self._thread.join(2)
        with self._lock:
            calls = list(self.calls.values())
        for call in calls:
            for timer in call.timers:
                timer.cancel()
        self.sock.close()
        self.rtp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- placing calls ------------------------------------------------------------
    def call(self, destination, timeout=15.0, **options):
        """Place one call and wait for it to end; returns its CallResult."""
        return self.start_call(destination, timeout=timeout, **options).wait(timeout + 5)

    def start_call(self, destination, hold=0.0, cancel_after=None, timeout=15.0,
                   from_user=None, headers=()):
        """Send the INVITE. ``hold``: seconds between answer and our BYE;
        ``cancel_after``: CANCEL that many seconds after the first 180/183."""
        call_id = sip.token("call") + "@fsroute-test"
        host, port = self.target
        uri = "sip:%s@%s:%d" % (destination, host, port)
        user = from_user or self.from_user
        branch = "z9hG4bK" + sip.token()
        invite_headers = [
            ("Via", "SIP/2.0/UDP %s:%d;rport;branch=%s" % (self.source, self.port, branch)),
            ("Max-Forwards", "70"),
            ("From", "<sip:%s@%s:%d>;tag=%s" % (user, self.source, self.port, sip.token("ft"))),
            ("To", "<sip:%s@%s:%d>" % (destination, host, port)),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", "<sip:%s@%s:%d>" % (user, self.source, self.port)),
            ("User-Agent", "fsroute-test-caller"),
            ("Content-Type", "application/sdp"),
        ] + list(headers)
        call = OutgoingCall(self, CallResult(call_id, destination), invite_headers, uri, hold, cancel_after)
        call.branch = branch
        with self._lock:
            self.calls[call_id] = call
        self._send(sip.build("INVITE %s SIP/2.0" % uri, invite_headers, sip.sdp(self.source, self.rtp_port)))
        self._later(call, timeout, self._give_up, call)
        return call

    def cancel(self, call):
        """CANCEL the INVITE (it must still be unanswered to have any effect)."""
        if call.result.code is not None or call.done.is_set():
            return
        call.result.cancelled = True
        headers = [h for h in call.invite_headers if h[0] in ("Via", "Max-Forwards", "From", "To", "Call-ID")]
        headers.append(("CSeq", "1 CANCEL"))
        self._send(sip.build("CANCEL %s SIP/2.0" % call.uri, headers))

    # -- internals -------------------------------------------------------------------
    def _send(self, data):
        try:
            self.sock.sendto(data, self.target)
        except OSError:
            pass

    def _later(self, call, delay, func, *args):
        timer = threading.Timer(delay, func, args)
        timer.daemon = True
        call.timers.append(timer)
        timer.start()

    def _give_up(self, call):
        if not call.done.is_set():
            if call.result.code is None:
                self.cancel(call)
            self._finish(call)

    def _finish(self, call):
        call.result.ended = time.monotonic()
        for timer in call.timers:
            timer.cancel()
        call.done.set()
        with self._lock:
            self.calls.pop(call.result.call_id, None)

    def _receive(self):
        while self._running:
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            msg = sip.parse(data)
            if msg is None:
                continue
            with self._lock:
                call = self.calls.get(msg.call_id)
            if msg.method is not None:
                self._request(msg, call)
            elif call is not None:
                self._response(msg, call)

    def _request(self, msg, call):
        """FreeSWITCH's own requests in our dialog: BYE (it hung up) and anything else, 200."""
        self._send(sip.response(msg, 200, "OK"))
        if call is not None and msg.method == "BYE":
            call.result.remote_bye = True
            self._finish(call)

    def _response(self, msg, call):
        number, method = msg.cseq
        result = call.result
        if method == "CANCEL":
            result.cancel_code = msg.code
            return
        if method == "BYE":
            result.bye_code = msg.code
            self._finish(call)
            return
        if method != "INVITE":
            return
        if msg.code < 200:
            result.provisional.append(msg.code)
            if call.cancel_after is not None and msg.code in (180, 183) and not call.cancel_scheduled:
                call.cancel_scheduled = True
                self._later(call, call.cancel_after, self.cancel, call)
            return
        first = result.code is None
        if first:
            result.final_at = time.monotonic()
        result.code, result.reason = msg.code, msg.reason
        call.to_header = msg.get("to", "")
        if msg.code < 300:
            contact = msg.get("contact", "")
            if "<" in contact:
                call.remote_target = contact.split("<", 1)[1].split(">", 1)[0]
            self._ack_2xx(call)
            if first:
                self._later(call, max(call.hold, 0.0), self._bye, call)
        else:
            self._ack_error(call)
            self._finish(call)

    def _dialog_headers(self, call, cseq, branch=None):
        via = "SIP/2.0/UDP %s:%d;rport;branch=%s" % (self.source, self.port, branch or "z9hG4bK" + sip.token())
        return [("Via", via), ("Max-Forwards", "70"), ("From", dict(call.invite_headers)["From"]),
                ("To", call.to_header), ("Call-ID", call.result.call_id), ("CSeq", cseq)]

    def _ack_2xx(self, call):
        call.result.acked = True
        self._send(sip.build("ACK %s SIP/2.0" % call.remote_target, self._dialog_headers(call, "1 ACK")))

    def _ack_error(self, call):
        call.result.acked = True
        self._send(sip.build("ACK %s SIP/2.0" % call.uri, self._dialog_headers(call, "1 ACK", call.branch)))

    def _bye(self, call):
        if call.done.is_set():
            return
        call.result.bye_sent = True
        self._send(sip.build("BYE %s SIP/2.0" % call.remote_target, self._dialog_headers(call, "2 BYE")))
        self._later(call, 5.0, self._finish, call)
