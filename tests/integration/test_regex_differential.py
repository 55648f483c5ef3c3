"""Route regexes and $N numbers: fsroute (Python re) against the switch's `regex` API (PCRE2).

Patterns: examples/, the importer's test data, hand-picked constructs and
generated prefix routes; each against generated destinations, over one
event-socket connection. fsroute refuses the constructs found to differ
(fsroute.core.patterns.pcre_difference); every pattern it accepts must match,
and fill $0..$N, exactly as the switch does.
"""

import glob
import html
import os
import random
import re
import warnings

import yaml

from fsroute.core.patterns import compile_route_regex, pcre_difference
from fsroute.core.model import Route

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 9

HAND_PICKED = [
    r"^(\d+)$", r"^\+?44(\d{9,10})$", r"^00(44\d{6,12})$", r"^(?:00|\+)(\d+)$", r"^(112|911)$",
    r"^1(?=2)", r"^(?!0)(\d+)$", r"^(\d{3})(\d{3})?(\d+)$", r"^(\d+?)(\d)$", r"^([2-9]\d{2})(\d{7})$",
    r"^\*98$", r"^#(\d+)#$", r"^\w+$", r"^partner_\w+$", r"^\s*(\d+)", r"\d{4}$", r"^1\b", r"^(1)?(x)?2",
    r"^(?P<cc>44|33)(?P<rest>\d+)$", r"^(?P<a>1)(?P=a)?23", r"^(1)\1", r"^1++2", r"(?>1)2", r"^.{3}$",
    r"^[^0]\d*$", r"^[0-9A-F]+$", r"(?i)^abc", r"^a.c$", r"^\x31", r"^\061", r"^[\d*#]+$", r"^[a\-z]+$",
    r"^[]a]+$", r"^(a|ab)(c|bcd)(d*)$", r"^(.*)$", r"^(.*?)(\d)$", r"(\d)(\d)(\d)(\d)(\d)(\d)(\d)(\d)(\d)(\d)(\d)",
    r"^\d{2,}$", r"^\d{0}1", r"^1{2}$", r"^(0|1)*$", r"^$", r"\Z", r"^\d\Z", r"^\A1", r"^1|^2", r"^(?:)1",
    r"^a{1,2}?b", r"^(\+)?(\d+)$", r"^[+]\d+$", r"^\.\*$", r"^[.]+$", r"^\S+$", r"^\W",
]
# Constructs Python accepts that the switch reads otherwise: (pattern, subject, what the switch says)
DIFFERING = [
    (r"^[[:digit:]]+$", "123", "true"),      # Python: a set of '[:digt' then ']'
    (r"^[[:alpha:]]", "a1", "true"),
    (r"^1{,2}23$", "1{,2}23", "true"),       # Python: {0,2}
    ("^[\u00e9]$", "\u00e9", "false"),       # PCRE2 matches UTF-8 bytes
    (r"^\u0031", "1", "false"),              # PCRE2 has no \u escape
]
# Destinations the switch matches otherwise: fsroute refuses them before any regex runs.
DIFFERING_DESTINATIONS = [(r"^.{3}$", "\u00e912", "false"), (r"^.{3}(\d+)$", "\u00e912345", "true")]


def corpus_patterns():
    found = set(HAND_PICKED)
    for path in glob.glob(os.path.join(REPO, "examples", "*.yaml")):
        for route in yaml.safe_load(open(path)).get("routes", []):
            found.update(str(v) for v in (route.get("match") or {}).values())
    for path in glob.glob(os.path.join(REPO, "tests", "data", "import", "**", "*.xml"), recursive=True):
        for expression in re.findall(r'expression="([^"]*)"', open(path, errors="replace").read()):
            if "&" not in expression.replace("&amp;", "").replace("&lt;", "").replace("&gt;", ""):
                found.add(html.unescape(expression))
    return found


def generated_patterns(rng, count=150):
    """Prefix routes of the shapes carrier tables use, plus some alternation and optional parts."""
    out = []
    for _ in range(count):
        prefix = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 4)))
        parts = [rng.choice(["^", "^", ""]), rng.choice(["", r"\+?", "(?:00|\\+)"]), prefix]
        body = rng.choice([r"(\d+)", r"(\d{%d,%d})" % (2, rng.randint(3, 12)), r"(\d{%d})" % rng.randint(1, 8),
                           r"([1-9]\d*)", r"(\d*?)(\d{2})", r"(1|2[0-9])(\d+)?", r"(\d)?(\d+)", r"(.*)"])
        parts.append(body)
        parts.append(rng.choice(["$", "$", "", r"\d*$"]))
        out.append("".join(parts))
    return out


def subjects_for(pattern, rng, count=16):
    literal = re.sub(r"[^0-9]", "", pattern.split("(")[0])[:6]
    out = {"1", "12", "123", "0044123456789", "+441234567890", "*98", "#12#", "partner_x1", "abc", "ABC",
           "911", "1{,2}23", "a.c", "00"}
    for _ in range(count):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 16)))
        out.add(rng.choice(["", literal, "+" + literal, "00"]) + digits)
    return sorted(out)


def switch_regex(switch, subject, pattern, substitution=None):
    """`regex m:<d>subject<d>pattern[<d>subst]` with a delimiter none of them holds."""
    text = subject + pattern + (substitution or "")
    delimiter = next((d for d in "~`!%;@,&" if d not in text), None)
    if delimiter is None:
        return None
    parts = [subject, pattern] + ([substitution] if substitution is not None else [])
    return switch.api("regex m:%s%s" % (delimiter, delimiter.join(parts)))


def test_patterns_fsroute_accepts_match_and_substitute_as_the_switch_does(fs):
    rng = random.Random(SEED)
    patterns = sorted(corpus_patterns()) + generated_patterns(rng)
    checked = substituted = 0
    differences = []
    for pattern in patterns:
        compiled = compile_route_regex(pattern)  # raises if fsroute refuses it: none of these is refused
        groups = compiled.groups
        for subject in subjects_for(pattern, rng):
            theirs = switch_regex(fs.switch, subject, pattern)
            if theirs is None:
                continue
            found = compiled.search(subject)
            checked += 1
            if theirs not in ("true", "false") or (theirs == "true") != bool(found):
                differences.append(("match", pattern, subject, theirs, bool(found)))
                continue
            if found:
                parts = tuple(x for i in range(groups + 1) for x in (i, "="))
                ours = Route("t", 1, compiled, (), parts, None, "gw", None).rewrite(found, subject)
                theirs = switch_regex(fs.switch, subject, pattern, "".join("$%d=" % i for i in range(groups + 1)))
                substituted += 1
                if theirs != ours:
                    differences.append(("substitution", pattern, subject, theirs, ours))
    assert checked > 3000 and substituted > 1000, (checked, substituted)
    assert not differences, "%d differences, e.g.:\n%s" % (len(differences), "\n".join(map(repr, differences[:20])))


def test_constructs_that_differ_are_refused(fs):
    for pattern, subject, switch_says in DIFFERING:
        assert switch_regex(fs.switch, subject, pattern) == switch_says
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible nested set": Python's own doubt
            python_says = "true" if re.search(pattern, subject, re.ASCII) else "false"
        assert python_says != switch_says, (pattern, subject)  # the difference is real...
        assert pcre_difference(pattern) is not None  # ...so fsroute check refuses the pattern


def test_destinations_that_differ_are_refused(fs, tmp_path):
    for pattern, subject, switch_says in DIFFERING_DESTINATIONS:
        assert switch_regex(fs.switch, subject, pattern) == switch_says
    assert switch_regex(fs.switch, "\u00e912345", r"^.{3}(\d+)$", "$1") == "2345"  # Python's re: 345
    from fsroute import route
    from fsroute.testing import FakeFreeSWITCH, StubSession, reset_state
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nroutes:\n  - {name: r, match: {destination_number: '^.{3}(\\d+)$'}, "
                     "number: '$1', gateway: gw1}\n")
    reset_state()
    try:
        with FakeFreeSWITCH() as fake:
            fake.set_gateways("external", up=["gw1"])
            session = StubSession({"destination_number": "\u00e912345"}, fake=fake)
            route.handler(session, str(rules))
    finally:
        reset_state()
    assert session.variables["fsroute_result"] == "invalid_number" and session.bridges == []
