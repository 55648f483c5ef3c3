"""Loading a big rules file starts no full pass of the cyclic GC (each one pauses every call thread)."""

import gc

from fsroute.core import loader


def big_rules(count):
    lines = ["version: 1", "routes:"]
    for i in range(count):
        lines += ["  - name: to %d" % i, "    match: {destination_number: '^00(%d\\d{4,9})$'}" % (10000 + i),
                  "    number: '$1'", "    gateway: gw%d" % (i % 7)]
    return "\n".join(lines) + "\n"


def test_a_big_load_runs_young_collections_only():
    text = big_rules(5000)
    passes = []

    def seen(phase, info):
        if phase == "start":
            passes.append(info["generation"])

    before = gc.get_threshold()
    gc.freeze()    # what the process held before is left out, and the collection after it
    gc.collect()   # finds nothing: the load alone decides when a full pass is due
    gc.set_threshold(100, 2, 2)  # as 5,000 routes would on defaults in a process holding 100,000
    gc.callbacks.append(seen)
    try:
        rules = loader.parse(text, "big.yaml")
        during = gc.get_threshold()
    finally:
        gc.callbacks.remove(seen)
        gc.set_threshold(*before)
        gc.unfreeze()
    assert len(rules.routes) == 5000
    assert passes and 2 not in passes, passes  # young ones ran: the collector stayed on
    assert during == (100, 2, 2) and gc.isenabled()


def test_the_thresholds_come_back_after_a_load_that_fails():
    before = gc.get_threshold()
    try:
        loader.parse("version: 1\nroutes: [{name: a}]\n", "bad.yaml")
    except loader.RulesError:
        pass
    assert gc.get_threshold() == before


FRESH_INTERPRETER = """
import gc, weakref
import fsroute.route
from fsroute.runtime import call
seen = {id(o) for o in gc.get_objects()}
class Node:
    pass
node = Node()
node.me = node  # a cycle made after the import
gone = weakref.ref(node)
del node
gc.collect()
print(gc.get_freeze_count(), id(call.handle) in seen, id(call._Call) in seen, gone() is None)
"""


def test_what_fsroute_finds_loaded_is_left_out_of_full_passes_and_later_cycles_are_still_collected():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", FRESH_INTERPRETER], capture_output=True, text=True, check=True)
    frozen, handle_walked, class_walked, collected = out.stdout.split()
    assert int(frozen) > 5000  # the interpreter's modules, classes and functions, fsroute's among them
    assert (handle_walked, class_walked, collected) == ("False", "False", "True")
