"""3. Rules files: whatever the file holds, the loader answers with RulesError or a RuleSet.

Every problem names ``file:line:col`` (line and col >= 1 for anything read
from the file) on one bounded line; parsing takes bounded time and memory
(billion laughs, quadratic alias fan-out, 50 MB files, huge numbers, deep
nesting); ``fsroute check`` prints problems, never a traceback.
"""

import contextlib
import copy
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fsroute.tools.cli
import fsroute.core.index
import fsroute.core.grammar
from fsroute.core.loader import parse
from fsroute.core.model import RuleSet, RulesError
from budget import examples

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "rules.yaml").read_bytes()
NAME = "rules.yaml"
MEMORY_BOUND = 200 * 1024 * 1024
# CPU seconds of this process (time.process_time): what a hostile file costs, not the wall time
# that other jobs on a shared machine add to it.
TIME_BOUND = 10.0
# The builder's work on a file: far more than any file of these sizes spells
# out, far less than what aliases fanned out quadratically or exponentially would be.
WORK_BOUND = 200000


def check_parse(data, name=NAME):
    """Parse ``data``; only a RuleSet or a RulesError with positioned one-line problems may come out."""
    try:
        ruleset = parse(data, name)
    except RulesError as exc:
        assert exc.problems, "RulesError without problems"
        for problem in exc.problems:
            assert problem.file == name
            assert isinstance(problem.line, int) and problem.line >= 1, problem
            assert isinstance(problem.col, int) and problem.col >= 1, problem
            assert isinstance(problem.message, str) and problem.message.strip(), problem
            assert "\n" not in problem.message and "\r" not in problem.message, problem
            assert len(problem.message) <= 1000, "a %d-character message" % len(problem.message)
            assert str(problem).startswith("%s:%d:%d: " % (name, problem.line, problem.col))
        return exc
    assert isinstance(ruleset, RuleSet)
    return ruleset


@contextlib.contextmanager
def bounded(limit_bytes=MEMORY_BOUND, limit_seconds=TIME_BOUND):
    """Measure the peak of new allocations (tracemalloc) and the CPU time of the block."""
    tracemalloc.start()
    started = time.process_time()
    try:
        yield
        elapsed = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, "peak allocation %.1f MB" % (peak / 1e6)
    assert elapsed < limit_seconds, "took %.1f s" % elapsed


@pytest.fixture
def work(monkeypatch):
    """Counts what the builder does per CIDR, regex and group member: its work on the tree."""
    counts = {"cidr": 0, "regex": 0, "member": 0, "cause": 0}
    real_network = fsroute.core.acl.parse_network

    def counting_network(text):
        counts["cidr"] += 1
        return real_network(text)

    def wrap(name, key):
        real = getattr(fsroute.core.grammar.Builder, name)

        def counting(self, *args, **kwargs):
            counts[key] += 1
            return real(self, *args, **kwargs)
        monkeypatch.setattr(fsroute.core.grammar.Builder, name, counting)

    monkeypatch.setattr(fsroute.core.grammar, "parse_network", counting_network)
    wrap("regex", "regex")
    wrap("member", "member")
    wrap("cause", "cause")
    return counts


def run_check(path):
    """``fsroute check PATH`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = fsroute.tools.cli.main(["check", str(path)])
    return code, out.getvalue(), err.getvalue()


def assert_check_output(path, code, out, err):
    """Exit 0, one OK line and at most warnings (RULES[:LINE:COL]: warning: ...), or exit 1 and only
    RULES:LINE:COL lines (on stdout or stderr)."""
    assert "Traceback" not in out + err
    assert code in (0, 1), (code, out, err)
    if code == 0:
        lines = out.splitlines()
        assert len(lines) == 1 and lines[0].startswith("OK: "), out
        warning = re.compile(r"%s(:\d+:\d+)?: warning: \S" % re.escape(str(path)))
        for line in err.splitlines():
            assert warning.match(line), "not a warning line: %r" % line[:200]
    else:
        lines = (out + err).splitlines()
        assert lines, "fsroute check printed nothing"
        pattern = re.compile(r"%s:\d+:\d+: \S" % re.escape(str(path)))
        for line in lines:
            assert pattern.match(line), "not a RULES:LINE:COL line: %r" % line[:200]


# -- hand-written hostile files -----------------------------------------------------------

def _text(s):
    return s.encode("utf-8")


def _laughs(levels=9, fan=9):
    """The classic: each level lists the previous one ``fan`` times (fan ** levels leaves)."""
    lines = ["lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        lines.append("lol%d: &l%d [%s]" % (level, level, ", ".join(["*l%d" % (level - 1)] * fan)))
    return "\n".join(lines) + "\n"


def _in_section(section_yaml):
    """An anchored structure defined in a harmless place, then used where the builder walks it."""
    return ("version: 1\n" + section_yaml).encode("utf-8")


LAUGHS = {
    "laughs_unused_keys": _text("version: 1\n" + _laughs() + "routes: []\n"),
    "laughs_failover_on": _text("version: 1\nf: &a0 [GATEWAY_DOWN, USER_BUSY]\n"
                                + "".join("x%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 9))
                                          for i in range(1, 9))
                                + "defaults: {failover_on: *a8}\nroutes: []\n"),
    "laughs_acls": _in_section(
        "acls:\n  a0: &x\n    default: deny\n    nodes:\n"
        + "".join("      - allow: 10.0.%d.0/24\n" % i for i in range(200))
        + "".join("  a%d: *x\n" % i for i in range(1, 2000))
        + "routes: []\n"),
    "laughs_groups": _in_section(
        "groups:\n  g0: &g\n    gateways:\n"
        + "".join("      - {name: gw%d, weight: 1}\n" % i for i in range(300))
        + "".join("  g%d: *g\n" % i for i in range(1, 2000))
        + "routes: []\n"),
    "laughs_route_match": _in_section(
        "defaults: {profile: external}\nroutes:\n  - name: r0\n    gateway: gw1\n    match: &m\n"
        + "".join("      v%d: '^x'\n" % i for i in range(300))
        + "".join("  - {name: r%d, gateway: gw1, match: *m}\n" % i for i in range(1, 2000))),
    "laughs_routes_nested": _in_section(
        "routes: &r0\n  - &route {name: r, gateway: gw1, match: {destination_number: '^1'}}\n"
        + "".join("x%d: &r%d [%s]\n" % (i, i, ", ".join(["*r%d" % (i - 1)] * 9)) for i in range(1, 9))),
    "laughs_self_reference": _text("version: 1\nroutes: &a [*a]\n"),
    "laughs_unknown_alias": _text("version: 1\nroutes: *nothing\n"),
}

HOSTILE = dict(LAUGHS)
HOSTILE.update({
    "empty": b"",
    "only_comment": b"# nothing here\n",
    "only_null": b"~\n",
    "scalar_top": b"version\n",
    "list_top": b"- version: 1\n",
    "explicit_int_empty": b"version: !!int ''\nroutes: []\n",
    "explicit_int_underscore": b"version: !!int _\nroutes: []\n",
    "explicit_float_empty": b"version: 1\ndefaults: {status_ttl: !!float ''}\nroutes: []\n",
    "explicit_bool_maybe": b"version: 1\ndefaults: {status_ttl: !!bool maybe}\nroutes: []\n",
    "explicit_int_text": b"version: !!int twelve\nroutes: []\n",
    "explicit_binary": b"version: !!binary aGVsbG8=\nroutes: []\n",
    "explicit_set": b"version: 1\nroutes: !!set {a, b}\n",
    "python_object_tag": b"version: 1\nroutes: !!python/object/apply:os.system ['echo pwned >&2']\n",
    "python_name_tag": b"version: !!python/name:os.system\nroutes: []\n",
    "local_tag": b"version: !local 1\nroutes: []\n",
    "merge_key": b"version: 1\nbase: &b {name: r, gateway: gw1}\nroutes:\n  - <<: *b\n",
    "complex_key": b"version: 1\n? [a, b]\n: c\nroutes: []\n",
    "alias_key": b"version: 1\nk: &k routes\n*k : []\n",
    "duplicate_keys": b"version: 1\nroutes: []\nroutes: []\n",
    "decimal_5000_digits": b"version: 1" + b"0" * 5000 + b"\nroutes: []\n",
    "decimal_10e5000_in_weight": (b"version: 1\ngroups: {g: {gateways: [{name: gw1, weight: 1"
                                  + b"0" * 5000 + b"}]}}\nroutes: []\n"),
    "hex_20000_digits": b"version: 0x" + b"f" * 20000 + b"\nroutes: []\n",
    "octal_20000_digits": b"version: 1\ngroups: {g: {strategy: 0" + b"7" * 20000 + b", gateways: [a]}}\nroutes: []\n",
    "binary_20000_digits_in_number": (b"version: 1\nroutes:\n - {name: a, gateway: g, number: 0b"
                                      + b"1" * 20000 + b"}\n"),
    "sexagesimal_200k_parts": b"version: 1" + b":1" * 200000 + b"\nroutes: []\n",
    "float_overflow": b"version: 1\ndefaults: {status_ttl: 1e99999}\nroutes: []\n",
    "float_nan": b"version: 1\ndefaults: {status_ttl: .nan, reload_check: -.inf}\nroutes: []\n",
    "float_version": b"version: 1.0\nroutes: []\n",
    "bool_version": b"version: true\nroutes: []\n",
    "deep_flow_1M": b"version: 1\nroutes: " + b"[" * 1000000 + b"]" * 1000000 + b"\n",
    "deep_flow_unclosed": b"version: 1\nroutes: " + b"{a: " * 100000 + b"\n",
    "deep_block_200": b"version: 1\nroutes:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 200)),
    "deep_mapping_40": b"version: 1\nroutes: []\ndefaults:\n" + b"".join(b"  " * i + b"a:\n" for i in range(1, 40)),
    "regex_nested_1000": _text("version: 1\nroutes:\n - {name: a, gateway: g, match: {destination_number: '"
                               + "(" * 1000 + "a" + ")" * 1000 + "'}}\n"),
    "regex_repeat_overflow": _text("version: 1\nroutes:\n - {name: a, gateway: g, match: "
                                   "{destination_number: 'a{99999999999999999999}'}}\n"),
    "regex_bad": _text("version: 1\nroutes:\n - {name: a, gateway: g, match: {destination_number: '(('}}\n"),
    "regex_1MB": _text("version: 1\nroutes:\n - {name: a, gateway: g, match: {destination_number: '^"
                       + "1" * 2 ** 20 + "'}}\n"),
    "bad_cidr_huge": _text("version: 1\nacls: {a: {default: deny, nodes: [{allow: '" + "1." * 500000
                           + "'}]}}\nroutes: []\n"),
    "key_1MB": _text("version: 1\n" + "k" * 2 ** 20 + ": 1\nroutes: []\n"),
    "key_with_newlines": _text('version: 1\n"a\\nb\\r\\x1b[31mred": 1\nroutes: []\n'),
    "route_name_newline": _text('version: 1\nroutes:\n - {name: "x\\ny", group: nope}\n'),
    "string_30MB": b"version: 1\nroutes: '" + b"x" * (30 * 1024 * 1024) + b"'\n",
    "too_many_problems": _text("version: 1\nroutes:\n" + "".join(" - {name: r%d}\n" % i for i in range(5000))),
    "nul_byte": b"version: 1\x00\nroutes: []\n",
    "control_char": b"version: 1\nroutes: []\n\x01\n",
    "control_char_after_utf8": "é: ü\nab: c\x01d\n".encode("utf-8"),
    "latin1": "version: 1\nroutes: []\n# caf\xe9\n".encode("latin-1"),
    "utf16": "version: 1\nroutes: []\n".encode("utf-16"),
    "utf8_bom": b"\xef\xbb\xbfversion: 1\nroutes: []\n",
    "overlong_utf8": b"version: 1\nroutes: []\n# \xc0\xaf\n",
    "encoded_surrogate": b"version: 1\nroutes: []\n# \xed\xa0\x80\n",
    "truncated_utf8": b"version: 1\nroutes: []\n# \xe2\x82",
    "tabs": b"version: 1\n\troutes: []\n",
    "several_documents": b"version: 1\nroutes: []\n---\nversion: 1\nroutes: []\n",
    "directive": b"%YAML 9.9\n---\nversion: 1\nroutes: []\n",
    "unterminated_quote": b"version: 1\nroutes: '\n",
    "crlf": b"version: 1\r\nroutes: []\r\n",
    "cr_only": b"version: 1\rroutes: []\r",
})


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files(name, work, tried):
    data = HOSTILE[name]
    started = time.process_time()
    outcome = check_parse(data)
    elapsed = time.process_time() - started
    assert elapsed < TIME_BOUND, "took %.1f s" % elapsed
    assert sum(work.values()) <= WORK_BOUND, work
    if name.startswith("laughs_") or name in ("python_object_tag", "python_name_tag", "nul_byte",
                                              "latin1", "utf16", "control_char", "deep_flow_1M"):
        assert isinstance(outcome, RulesError)
    tried["rules_files"] += 1


MEMORY_CASES = sorted(n for n in HOSTILE if n.startswith("laughs_")) + [
    "deep_flow_1M", "deep_flow_unclosed", "string_30MB", "key_1MB", "too_many_problems",
    "sexagesimal_200k_parts", "hex_20000_digits", "bad_cidr_huge"]


@pytest.mark.parametrize("name", MEMORY_CASES)
def test_hostile_files_memory(name, tried):
    """The same files again, measuring the peak of what parsing allocates (tracemalloc)."""
    with bounded(limit_seconds=4 * TIME_BOUND):  # tracemalloc itself slows allocation down
        check_parse(HOSTILE[name])
    tried["rules_files"] += 1


def test_quadratic_alias_fan_out_is_refused_quickly(work, tried):
    """2,000 acls sharing one list of 200 nodes: 12 KB of text, 400,000 CIDRs to parse."""
    data = HOSTILE["laughs_acls"]
    with bounded(limit_bytes=50 * 1024 * 1024, limit_seconds=TIME_BOUND):
        outcome = check_parse(data)
    assert isinstance(outcome, RulesError)
    assert work["cidr"] <= 200 + WORK_BOUND // 10, work
    tried["rules_files"] += 1


def test_laughs_in_every_section_are_refused(tried):
    for name, data in LAUGHS.items():
        outcome = check_parse(data)
        assert isinstance(outcome, RulesError), name
        tried["rules_files"] += 1


def test_shared_anchors_within_reason_still_load(tried):
    """Aliases are not banned: sharing a match block or an acl's nodes a few times is fine."""
    data = _text("""\
version: 1
acls:
  peers: &peers
    default: deny
    nodes: [{allow: 192.0.2.0/24}, {allow: 198.51.100.0/24}]
  peers_too: *peers
groups:
  g: {gateways: [gw1, gw2]}
routes:
  - {name: a, gateway: gw1, acl: peers, match: &m {destination_number: '^(\\d+)$', caller_id_number: '^1'}}
  - {name: b, group: g, acl: peers_too, match: *m}
""")
    ruleset = check_parse(data)
    assert isinstance(ruleset, RuleSet)
    assert [r.name for r in ruleset.routes] == ["a", "b"]
    # An alias of a scalar costs what the scalar would: any number of them is fine.
    many = _text("version: 1\ndefaults:\n  failover_on: [&c GATEWAY_DOWN" + ", *c" * 150000
                 + "]\nroutes: []\n")
    assert isinstance(check_parse(many), RuleSet)
    tried["rules_files"] += 2


def test_a_50MB_file_is_refused_in_bounded_memory(tmp_path, tried):
    body = EXAMPLE + b"".join(b"# padding line %09d ----------------------------------------\n" % i
                              for i in range(50 * 1024 * 1024 // 64))
    assert len(body) >= 50 * 1024 * 1024
    with bounded():
        outcome = check_parse(body)
    assert isinstance(outcome, RulesError)
    path = tmp_path / "big.yaml"
    path.write_bytes(body)
    del body
    with bounded():
        with pytest.raises(RulesError) as caught:
            fsroute.core.loader.load(str(path))
    assert caught.value.problems[0].line >= 1
    code, out, err = run_check(path)
    assert code == 1
    assert_check_output(path, code, out, err)
    tried["rules_files"] += 3


@pytest.mark.parametrize("name", ["laughs_acls", "nul_byte", "utf16", "regex_nested_1000",
                                  "explicit_int_empty", "key_with_newlines"])
def test_fsroute_check_command_shows_no_traceback(name, tmp_path, tried):
    """The installed command, as an operator runs it: problems on stdout, no traceback, exit 1."""
    path = tmp_path / ("%s.yaml" % name)
    path.write_bytes(HOSTILE[name])
    done = subprocess.run([sys.executable, "-m", "fsroute", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert_check_output(path, done.returncode, done.stdout, done.stderr)
    tried["rules_files"] += 1


@pytest.mark.parametrize("what", ["missing", "directory", "nul_in_path", "empty"])
def test_fsroute_check_on_unreadable_paths(what, tmp_path, tried):
    path = {"missing": tmp_path / "nope.yaml", "directory": tmp_path,
            "nul_in_path": str(tmp_path / "a\x00b.yaml"), "empty": tmp_path / "empty.yaml"}[what]
    if what == "empty":
        path.write_bytes(b"")
    code, out, err = run_check(path)
    assert code == 1
    assert "Traceback" not in out + err
    assert (out + err).strip(), "no problem printed"
    tried["rules_files"] += 1


def test_long_regexes_are_indexed_in_bounded_time(tried):
    """Loading a big but valid regex must stay linear in its length, nested groups or not.

    The route index reads each destination regex's literal prefix; here that
    reading is timed on a 200 KB regex inside 100 nested groups against the
    same regex without the groups. Linear work gives a ratio near 1; work
    proportional to nesting x length gives about 100.
    """
    body = "1" * 200000
    nested = re.compile("^" + "(" * 100 + body + ")" * 100, re.ASCII)
    flat = re.compile("^" + body, re.ASCII)

    def timed(regex):
        started = time.process_time()
        fsroute.core.index.literal_prefix(regex)
        return time.process_time() - started

    flat_time = min(timed(flat) for _ in range(3))
    nested_time = timed(nested)
    assert nested_time < 5 * flat_time + 0.05, (
        "literal prefix of a nested regex: %.3f s, of the flat one: %.3f s" % (nested_time, flat_time))
    # and the whole load, with a generous bound
    data = _text("version: 1\nroutes:\n" + "".join(
        " - {name: r%d, gateway: gw1, match: {destination_number: '%s'}}\n" % (i, nested.pattern)
        for i in range(3)))
    started = time.process_time()
    outcome = check_parse(data)
    assert isinstance(outcome, RuleSet), outcome
    assert time.process_time() - started < TIME_BOUND
    tried["rules_files"] += 4


# -- generated mutations of examples/rules.yaml ------------------------------------------------

BASE = yaml.safe_load(EXAMPLE)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


PATHS = [p for p in _paths(BASE) if p]


def _nest(depth):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


_ANY_TEXT = st.text(st.characters(min_codepoint=1, max_codepoint=0x10FFFF,
                                  exclude_categories=("Cs",)), max_size=20)
WEIRD = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10 ** 30, max_value=10 ** 300),
    st.integers(max_value=0), st.floats(), _ANY_TEXT,
    st.sampled_from(["allow", "deny", "continue", "weighted_round_robin", "priority", "gw1", "gw1 ",
                     "^(\\d+)$", "(", "$1", "$9", "10.0.0.0/33", "::/129", "0.0.0.0/0", "fe80::1%eth0",
                     "NORMAL_CLEARING", "SUCCESS", "NOT_A_CAUSE", "", " ", "-err", "gw1/x", "a|b",
                     "${x}", "\u0669", "~", "null", "yes", "0x1f", "1:30", "version"]),
    st.lists(st.integers(), max_size=3), st.lists(_ANY_TEXT, max_size=3),
    st.dictionaries(_ANY_TEXT, st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["hangup", "allow", "deny", "name", "weight", "default", "nodes",
                                     "gateway", "group", "match", "number", "acl", "strategy"]),
                    st.one_of(st.integers(), _ANY_TEXT), max_size=3),
    st.integers(1, 60).map(_nest),
    st.binary(max_size=8),
)


@st.composite
def structural_mutation(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            parent[last]  # noqa: B018  (still there after earlier operations?)
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, (dict, list)):
            continue  # an earlier operation put a scalar here
        op = draw(st.sampled_from(["delete", "replace", "replace", "wrap_list", "wrap_map",
                                   "add_key", "duplicate", "rename"]))
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(WEIRD)
        elif op == "wrap_list":
            parent[last] = [parent[last]]
        elif op == "wrap_map":
            parent[last] = {draw(st.sampled_from(["x", "hangup", "name"])): parent[last]}
        elif op == "add_key" and isinstance(parent, dict):
            parent[draw(st.one_of(_ANY_TEXT, st.sampled_from(["version", "route", "defaults", "nodes"])))] \
                = draw(WEIRD)
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(_ANY_TEXT)] = parent.pop(last)
    flow = draw(st.sampled_from([None, False, True]))
    text = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=draw(st.booleans()), sort_keys=False)
    return text.encode("utf-8")


TOKENS = [b"&a ", b"*a", b"*a ", b"!!int ", b"!!float ", b"!!bool ", b"!!str ", b"!!binary ",
          b"!!python/object:os.system ", b"!local ", b"<<: *a\n", b"{", b"}", b"[", b"]", b"? ", b"- ",
          b": ", b",", b"\t", b"'", b'"', b"|", b">", b"#", b"%YAML 1.1\n", b"---\n", b"...\n", b"\n",
          b"  ", b"\xff", b"\xfe\xff", b"\x00", b"\xef\xbb\xbf", b"\xc3", b"\xed\xa0\x80", b"\x1b[31m",
          b"1" * 5000, b"0x" + b"f" * 2000, b"1:0" * 800, b"~", b"null", b"yes", b"1e999", b".nan",
          b"[" * 100, b"{a: " * 40, b"\\", b"\\x00", b"\r", "\u2028".encode("utf-8")]


@st.composite
def byte_mutation(draw):
    data = bytearray(EXAMPLE)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "insert_token", "replace", "delete", "swap_lines"]))
        if op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "insert_token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "replace":
            size = draw(st.integers(1, 16))
            data[at:at + size] = draw(st.binary(min_size=1, max_size=size))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 200))]
        else:
            lines = bytes(data).split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
    return bytes(data)


MUTATIONS = st.one_of(structural_mutation(), byte_mutation())


@settings(max_examples=examples(1000), deadline=None)
@given(data=structural_mutation())
def test_structural_mutations(data, tried):
    check_parse(data)
    tried["rules_files"] += 1


@settings(max_examples=examples(1500), deadline=None)
@given(data=byte_mutation())
def test_byte_mutations(data, tried):
    check_parse(data)
    tried["rules_files"] += 1


@settings(max_examples=examples(1500), deadline=None)
@given(text=st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
                    max_size=300))
def test_arbitrary_text(text, tried):
    """Any str at all, lone surrogates included (parse takes str as well as bytes)."""
    check_parse(text)
    tried["rules_files"] += 1


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=MUTATIONS)
def test_fsroute_check_on_mutations(data, tried):
    handle, path = tempfile.mkstemp(suffix=".yaml", prefix="fsroute-mutation-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        code, out_text, err_text = run_check(path)
        assert_check_output(path, code, out_text, err_text)
    finally:
        os.unlink(path)
    tried["rules_files"] += 1
