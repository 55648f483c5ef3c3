"""The layers point one way: core <- runtime <- entry points; tools and migrate sit beside them.

Read from the source with ``ast``, so a new import in the wrong direction fails here at once.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "fsroute"
ENTRY_POINTS = ("fsroute.route", "fsroute.ctl")


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path):
    """Every module ``path`` imports (absolute names, relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update("%s.%s" % (base, alias.name) for alias in node.names)
    return found


MODULES = {module_name(p): imported(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name):
    if name in ENTRY_POINTS:
        return "entry"
    for part in ("core", "runtime", "tools", "migrate", "emulator", "testing"):
        if name == "fsroute." + part or name.startswith("fsroute.%s." % part):
            return part
    return "package"  # fsroute, fsroute.__main__


# What each layer may import from fsroute; no layer but the test double's fake may name freeswitch.
# The tools run calls on the emulated switch, never on the test double.
ALLOWED = {
    "core": {"core"},
    "runtime": {"core", "runtime"},
    "entry": {"core", "runtime"},
    "tools": {"core", "runtime", "tools", "migrate", "emulator", "entry", "package"},
    "migrate": {"core", "runtime", "tools", "migrate", "emulator", "package"},
    "emulator": {"core", "emulator"},
    "testing": {"core", "runtime", "emulator", "testing", "entry", "package"},
    "package": {"tools", "package"},
}


def test_the_rule_sees_every_layer():
    assert {layer(name) for name in MODULES} == set(ALLOWED)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_the_layers(name):
    own = layer(name)
    wrong = sorted(target for target in MODULES[name]
                   if target.startswith("fsroute.") and target in MODULES and layer(target) not in ALLOWED[own])
    assert wrong == [], "%s (%s) imports %s" % (name, own, wrong)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) in ("core", "tools", "migrate", "emulator")))
def test_core_and_tools_never_import_freeswitch(name):
    assert not any(t == "freeswitch" or t.startswith("freeswitch.") for t in MODULES[name])


def test_an_import_against_the_layers_is_caught(tmp_path):
    bad = tmp_path / "fsroute" / "core" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..runtime import store\nimport freeswitch\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "fsroute"
    try:
        assert imported(bad) >= {"fsroute.runtime", "fsroute.runtime.store", "freeswitch"}
    finally:
        PACKAGE = saved


def test_the_entry_points_do_not_lean_on_each_other():
    # route's handler lives in runtime.call; ctl takes what it shares with calls from lower modules.
    assert {t for t in MODULES["fsroute.route"] if t.startswith("fsroute.")} == {
        "fsroute.runtime.call", "fsroute.runtime.call.handle"}
    assert not {t for t in MODULES["fsroute.ctl"] if t.startswith(("fsroute.route", "fsroute.runtime.call"))}
