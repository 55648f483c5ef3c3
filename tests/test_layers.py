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


# Neither layer has an import circle (issue 19, defect 7 took apart runtime's 8-file one and core's 6-file one).
KNOWN_CYCLES = {"core": [], "runtime": []}


def import_cycles(package, modules):
    """The import circles among ``package``'s modules: each a set of names (without the package),
    one per strongly connected component of more than one module (Tarjan, iterative)."""
    prefix = "fsroute.%s." % package
    graph = {name: sorted(t for t in targets if t.startswith(prefix) and t in modules and t != name)
             for name, targets in modules.items() if name.startswith(prefix)}
    order, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in order:
            continue
        work = [(start, iter(graph[start]))]
        order[start] = low[start] = len(order)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == order[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member[len(prefix):])
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
            elif target not in order:
                order[target] = low[target] = len(order)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(graph[target])))
            elif target in on_stack:
                low[node] = min(low[node], order[target])
    return found


@pytest.mark.parametrize("package", sorted(KNOWN_CYCLES))
def test_no_import_circles_inside_a_layer(package):
    # Type-only imports count too: a circle of annotations is still a circle of meanings.
    new = [sorted(c) for c in import_cycles(package, MODULES)
           if not any(c <= known for known in KNOWN_CYCLES[package])]
    assert new == [], "import circles in fsroute/%s: %s" % (package, new)


def test_an_import_circle_is_caught():
    modules = {"fsroute.core.a": {"fsroute.core.b"}, "fsroute.core.b": {"fsroute.core.c", "fsroute.core"},
               "fsroute.core.c": {"fsroute.core.a.X", "fsroute.core.a"}, "fsroute.core.d": {"fsroute.core.a"}}
    assert import_cycles("core", modules) == [{"a", "b", "c"}]
    assert import_cycles("core", {"fsroute.core.a": {"fsroute.core.b"}, "fsroute.core.b": set()}) == []


def test_the_entry_points_do_not_lean_on_each_other():
    # route's handler lives in runtime.call; ctl takes what it shares with calls from lower modules.
    assert {t for t in MODULES["fsroute.route"] if t.startswith("fsroute.")} == {
        "fsroute.runtime.call", "fsroute.runtime.call.handle"}
    assert not {t for t in MODULES["fsroute.ctl"] if t.startswith(("fsroute.route", "fsroute.runtime.call"))}
