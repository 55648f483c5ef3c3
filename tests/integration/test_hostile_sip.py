"""Hostile SIP through a real FreeSWITCH with SIPp (issue 21): destinations and callers with control
characters, dial-string syntax, 500 characters, non-ASCII. Nothing of it reaches a dial string or an
API command, and every call ends with its defined cause. docs/reliability.md has the table."""

import os
import re
import subprocess
import time

from .harness.net import free_port
from .harness.switch import SwitchError, clean_env, fsroute_lines, parse_line

# A catch-all route that puts the whole destination in the dial string: only fsroute's number check
# stands between what the caller sent and `bridge`.
RULES = """\
version: 1
defaults: {status_ttl: 0.5}
routes:
  - {name: anything, match: {destination_number: '^(.*)$'}, number: '$1', gateway: gw1}
"""

# One INVITE with [dest] in the Request-URI and To, [caller] in From; any final answer is ACKed.
SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="hostile">
  <send retrans="500"><![CDATA[
INVITE sip:[dest]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[dest]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
%(failures)s
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[dest]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <pause milliseconds="200"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[dest]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <nop next="end"/>
  <label id="failed"/>
  <send><![CDATA[
ACK sip:[dest]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <label id="end"/>
</scenario>
""" % {"failures": "\n".join('  <recv response="%d" optional="true" next="failed"/>' % code for code in (
    400, 403, 404, 408, 415, 416, 480, 484, 486, 487, 488, 500, 502, 503, 603))}

SAFE = re.compile(r"[0-9A-Za-z+*#._-]{1,64}\Z")
HEADER_NAME = re.compile(r"[a-z0-9!%*_+`'~.-]+\Z")  # a SIP header name (RFC 3261 token), as sip.parse lowers it
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HOSTILE = [
    "1234|5678", "12{x}34", "{absolute_codec_string=PCMA}1234", "[1234]", "12,34", "12;34", "12:34",
    "${system(id)}", "$${sip_profile}", "sofia/gateway/gw2/1234", "1234@evil", "12/34", "12\\34",
    "12%7C34", "12%2C34", "%7Bx=1%7D1234", "12%0A34", "12%0D%0AX-Evil:%201", "12%00", "12%01", "\x01234",
    "12\x7f34", "12\x1b[31m34", "12\t34", "12 34", "12'34", '12"34', "1" * 500, "9" * 65,
    "\u0663\u0663\u0663", "12\u00e934", "\uff11\uff12\uff13", "12\u200b34", "\u202e4321",
]
CLEAN = "5551234"


def place(fs, workdir, dest, caller, n, name=None):
    """SIPp's call ``n`` (with ``name`` as From's display name when given); returns its final code (from
    SIPp's message log) and its Call-ID."""
    scenario = os.path.join(workdir, "hostile.xml" if name is None else "named.xml")
    if not os.path.exists(scenario):
        with open(scenario, "w") as handle:
            handle.write(SCENARIO if name is None else SCENARIO.replace("From: <sip:", 'From: "[name]" <sip:'))
    messages = os.path.join(workdir, "messages-%d.log" % n)
    host, port = fs.switch.sip_address
    subprocess.run([os.path.join(fs.switch.prefix, "bin", "sipp"), "%s:%d" % (host, port), "-sf", scenario,
                    "-key", "dest", dest, "-key", "caller", caller, "-key", "name", name or "",
                    "-cid_str", "hostile-%d-%d-%%u@%%s" % (os.getpid(), n), "-m", "1", "-i", "127.0.0.1",
                    "-p", str(free_port()), "-nostdin", "-timeout", "20s", "-recv_timeout", "15000", "-trace_msg",
                    "-message_file", messages],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(), timeout=60, cwd=workdir)
    with open(messages, "rb") as handle:
        text = handle.read().decode("utf-8", "replace")
    codes = [int(c) for c in re.findall(r"^SIP/2\.0 (\d{3}) .*\n(?:.+\n)*?CSeq: 1 INVITE", text, re.M)
             if int(c) >= 200]
    return (codes[0] if codes else None), "hostile-%d-%d-1@127.0.0.1" % (os.getpid(), n)


def well_formed(invites):
    """Whether every header of ``invites`` has a token for a name and no control character: none holds
    a line of the caller's choosing (sofia writes the caller ID it decoded raw into From and
    Remote-Party-ID; fsroute refuses control characters in it)."""
    headers = [h for invite in invites for h in invite.headers]
    return bool(headers) and all(HEADER_NAME.match(name) and not CONTROL.search(value) for name, value in headers)


def test_hostile_destinations_and_callers_reach_no_dial_string(fs, workdirs):
    fs.use_rules(RULES)
    workdir = workdirs("sipp")
    mark = fs.switch.log_mark()
    outcome = {}
    tried = [(dest, "1000") for dest in HOSTILE] + [(CLEAN, caller) for caller in HOSTILE]
    for n, (dest, caller) in enumerate(tried):
        code, call_id = place(fs, workdir, dest, caller, n)
        try:
            cdr = fs.switch.cdr_for(call_id, timeout=10 if code == 200 else 3)
        except SwitchError:  # refused by sofia's SIP parser: no channel, no dialplan
            cdr = None
        outcome[dest if caller == "1000" else "caller " + caller] = (code, cdr and (
            cdr["destination_number"], cdr["fsroute_result"], cdr["hangup_cause"]))
    log = fs.switch.log_since(mark)
    users = fs.gateways["gw1"].uri_users()
    assert all(SAFE.match(u) for u in users), users
    assert well_formed(fs.gateways["gw1"].invites), [i.headers for i in fs.gateways["gw1"].invites]
    dialled = [m.group(1) for m in re.finditer(r" EXECUTE .* (?:bridge|limit_execute)\((.*)\)$", log, re.M)]
    assert dialled and all(re.match(r"sofia/gateway/gw1/[0-9A-Za-z+*#._-]{1,64}$", d) for d in dialled), dialled
    assert "Traceback" not in log and not [l for l in log.splitlines() if "[ERR]" in l and "fsroute" in l]
    for what, (code, cdr) in outcome.items():
        if cdr is None:  # refused by sofia's SIP parser (484), or dropped unparsed (no answer): no channel
            assert code in (484, None) and not what.startswith("caller "), (what, code)
            continue
        destination, result, cause = cdr  # as the switch parsed it from the Request-URI
        if not SAFE.match(destination):
            assert (code, result, cause) == (484, "invalid_number", "INVALID_NUMBER_FORMAT"), (what, code, cdr)
        elif result == "invalid_number":  # a caller ID that sofia decoded to control characters
            assert what.startswith("caller ") and (code, cause) == (484, "INVALID_NUMBER_FORMAT"), (what, code, cdr)
        elif result != "bridged":  # the switch itself refuses to originate with this caller (docs/reliability.md)
            assert what.startswith("caller ") and result == "failed", (what, code, cdr)
    refused = [what for what, (code, cdr) in outcome.items() if cdr and cdr[1] == "invalid_number"]
    assert len(refused) >= 25, refused
    for caller in ("12%0A34", "12%0D%0AX-Evil:%201"):
        assert outcome["caller " + caller][1][1:] == ("invalid_number", "INVALID_NUMBER_FORMAT"), outcome
    assert any("control characters in caller_id_number" in line for line in fsroute_lines(log))
    assert sum(1 for what, (code, cdr) in outcome.items() if what.startswith("caller ") and cdr[1] == "bridged") >= 25
    lines = fsroute_lines(log)
    assert all(parse_line(l)["result"] in ("invalid_number", "bridged", "failed") for l in lines)


def test_hostile_display_names_reach_no_carrier(fs, workdirs):
    # sofia URL-decodes From's display name into caller_id_name: "Bob%0D%0AX-Evil: 1" would reach the
    # carrier as a header line of its own
    fs.use_rules(RULES)
    workdir = workdirs("sipp")
    mark = fs.switch.log_mark()
    names = ["Bob%0D%0AX-Evil: 1", "Bob%0Ax", "Bob%7Fx", "Bob%00x", "Alice", "Jos%C3%A9"]
    outcome = {}
    for n, name in enumerate(names):
        code, call_id = place(fs, workdir, CLEAN, "1000", 1000 + n, name)
        cdr = fs.switch.cdr_for(call_id, timeout=10)
        outcome[name] = (code, cdr["fsroute_result"], cdr["hangup_cause"])
    assert well_formed(fs.gateways["gw1"].invites), [i.headers for i in fs.gateways["gw1"].invites]
    for name in ("Bob%0D%0AX-Evil: 1", "Bob%0Ax"):
        assert outcome[name] == (484, "invalid_number", "INVALID_NUMBER_FORMAT"), outcome
    assert outcome["Alice"][:2] == outcome["Jos%C3%A9"][:2] == (200, "bridged"), outcome
    assert all(result in ("bridged", "invalid_number") for code, result, cause in outcome.values()), outcome
    refused = [l for l in fsroute_lines(fs.switch.log_since(mark)) if "result=invalid_number" in l]
    assert len(refused) == sum(1 for o in outcome.values() if o[1] == "invalid_number") >= 2
    assert all("control characters in caller_id_name" in line for line in refused), refused
