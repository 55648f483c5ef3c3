"""Rules files and decks changed the way configuration managers change them (issue 21).

Kubernetes ConfigMap volumes (a symlink swap through ``..data``), rsync (temp
file + rename, mtime kept), ``cp`` over the file (in place, slowly), the file
deleted, made unreadable, replaced by a directory, its directory removed: the
last good rules stay, one ERROR line says why, and the new version is taken
up once it is complete. Partial files never go live.
"""

import builtins
import os
import shutil
import stat

import pytest

from fsroute import route
from fsroute.runtime import process
from fsroute.testing import StubSession
from confmgr import configmap_publish, copy_over

RULES = """\
version: 1
defaults: {{reload_check: 0, status_ttl: 60}}
carriers:
  c: {{deck: {deck}, gateway: gwc, currency: USD}}
routes:
  - {{name: {name}_lcr, match: {{destination_number: '^00(\\d+)$'}}, number: '$1', lcr: {{carriers: [c]}}}}
  - {{name: {name}, match: {{destination_number: '^(\\d+)$'}}, number: '$1', gateway: {gateway}}}
"""
DECK = "prefix,rate\n49,%s\n"


def rules(name="v1", gateway="gw1", deck="rates.csv"):
    return RULES.format(name=name, gateway=gateway, deck=deck)


def run_now(target, args):
    """The store's background starter made synchronous: a reload lands within the call that saw it."""
    target(*args)


def age(path, seconds=10):
    """Date a file back: it has been still long enough to be complete."""
    then = os.stat(path).st_mtime - seconds
    os.utime(path, (then, then))


def written_at(path, clock):
    """Date a file to the test clock's wall time: written at that moment."""
    os.utime(path, (clock.time(), clock.time()))


def write(path, text, aged=True):
    with open(path, "w") as handle:
        handle.write(text)
    if aged:
        age(path)


def dial(path, dest="100"):
    session = StubSession({"destination_number": dest, "network_addr": "127.0.0.1"})
    route.handler(session, path)
    return session


def routed(path):
    """(route, gateway) of a plain call and the LCR rate of a deck call."""
    plain, deck = dial(path), dial(path, "0049123")
    return (plain.variables.get("fsroute_route"), plain.variables.get("fsroute_gateway"),
            deck.variables.get("fsroute_lcr_rate"))


@pytest.fixture
def errors(fake_freeswitch):
    return lambda: fake_freeswitch.log_lines("err")


@pytest.fixture
def switch(fake_freeswitch, clock):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gwc"])
    return clock


def settle(clock, path, checks=12):
    """Let time pass on the test clock, a call per quarter second, ``checks`` times."""
    for _ in range(checks):
        clock.advance(0.25)
        dial(path)


def live(switch, tmp_path):
    """(rules path, deck path) of v1 routing through gw1 and its deck rating 0049123 at 0.01, in force."""
    path = str(tmp_path / "rules.yaml")
    deck = str(tmp_path / "rates.csv")
    write(deck, DECK % "0.01")
    write(path, rules())
    process.store_for(path, switch, run_now)
    assert routed(path) == ("v1", "gw1", "0.01")
    return path, deck


# -- Kubernetes ConfigMap: rules.yaml -> ..data/rules.yaml, ..data -> ..<timestamp> ----------------

def test_a_configmap_symlink_swap_of_rules_and_deck_goes_live_whole(switch, tmp_path, errors):
    volume = str(tmp_path)
    directory = configmap_publish(volume, 1, {"rules.yaml": rules(), "rates.csv": DECK % "0.01"})
    for name in ("rules.yaml", "rates.csv"):
        age(os.path.join(directory, name))
    path = os.path.join(volume, "rules.yaml")
    process.store_for(path, switch, run_now)
    assert routed(path) == ("v1", "gw1", "0.01")
    directory = configmap_publish(volume, 2, {"rules.yaml": rules("v2", "gw2"), "rates.csv": DECK % "0.02"})
    seen = set()
    for _ in range(8):  # written just now: the deck may still be being written, nothing mixes
        switch.advance(0.25)
        seen.add(routed(path))
    assert seen == {("v1", "gw1", "0.01")}
    age(os.path.join(directory, "rates.csv"))
    settle(switch, path)
    assert routed(path) == ("v2", "gw2", "0.02")
    assert errors() == []


# -- rsync: a temp file renamed over, the sender's mtime kept -------------------------------------

def test_rsync_temp_and_rename_with_the_old_mtime_is_taken_up(switch, tmp_path, errors):
    path, _ = live(switch, tmp_path)
    for name, text in (("rates.csv", DECK % "0.03"), ("rules.yaml", rules("v2", "gw2"))):
        temporary = str(tmp_path / (".%s.Xy12ab" % name))
        write(temporary, text, aged=False)
        os.utime(temporary, (1_600_000_000, 1_600_000_000))  # rsync -t: the sender's mtime, long ago
        os.rename(temporary, str(tmp_path / name))
    settle(switch, path)
    assert routed(path) == ("v2", "gw2", "0.03")
    assert errors() == []


def test_an_editor_saving_version_after_version_goes_live_each_time(switch, tmp_path):
    # Each save is a new file renamed over the old, written just now; a broken save in between is
    # not tried while young. The file system gives the next new file the number of the one just
    # freed, so a save could carry the inode of the version in force and be taken for it rewritten
    # in place (waiting 2 s to be still, while the next save replaced it): no version went live.
    path, _ = live(switch, tmp_path)

    def save(text):
        temporary = path + ".swp"
        with open(temporary, "w") as handle:
            handle.write(text)
        written_at(temporary, switch)
        os.rename(temporary, path)

    broken = rules("bad", "gw1").replace("gateway: gw1", "gateway: gw1, group: nope")
    for turn in range(20):
        name, gateway = ("v%d" % turn, "gw2" if turn % 2 else "gw1")
        save(broken)
        switch.advance(0.25)
        dial(path)
        save(rules(name, gateway))
        for _ in range(3):  # a file renamed into place goes live one check later
            switch.advance(0.25)
            dial(path)
        assert routed(path)[:2] == (name, gateway), turn


# -- cp over the file: written in place, slowly ---------------------------------------------------

def test_a_rules_file_copied_over_in_place_goes_live_only_once_complete(switch, tmp_path, errors):
    path, _ = live(switch, tmp_path)
    new = rules("v2", "gw2").encode()
    half = new.index(b"  - {name: v2, match: {destination_number: '^(")  # the first half parses alone
    seen = set()

    def a_moment_later():
        written_at(path, switch)
        switch.advance(0.25)
        seen.add(routed(path))

    stall = [half] * 4  # the copy stalls a second with the half that parses in the file
    copy_over(path, new, list(range(16, half, 16)) + stall, a_moment_later)
    assert seen == {("v1", "gw1", "0.01")}  # the half that parses never went live
    settle(switch, path)
    assert routed(path) == ("v2", "gw2", "0.01")
    assert errors() == []


def test_a_deck_copied_over_slowly_goes_live_only_once_complete(switch, tmp_path, errors):
    path, deck = live(switch, tmp_path)
    new = ("prefix,rate\n4,0.09\n" + "".join("99%04d,0.5\n" % n for n in range(400)) + "49,0.02\n").encode()
    seen = set()

    def a_moment_later():
        switch.advance(0.25)
        seen.add(routed(path)[2])

    copy_over(deck, new, range(512, len(new), 512), a_moment_later)
    assert seen == {"0.01"}  # every prefix of it is a valid deck rating 0049123 at 0.09
    age(deck)
    settle(switch, path)
    assert routed(path)[2] == "0.02"
    assert errors() == []


# -- deleted, unreadable, a directory, the directory gone: last good kept, one ERROR line ---------

def unreadable_as_a_non_root_reader(monkeypatch):
    """FreeSWITCH runs as its own user; the tests run as root, which reads a mode-000 file anyway.
    Open refuses files whose mode grants no read, as it does for FreeSWITCH's user."""
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, str) and os.path.isfile(file) and not os.stat(file).st_mode & stat.S_IRUSR:
            raise PermissionError(13, "Permission denied", file)
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", refusing_open)


def replace_unreadable(path, text):
    """A new version written with mode 000 and renamed over (a config manager with a wrong mode)."""
    temporary = path + ".new"
    write(temporary, text)
    os.chmod(temporary, 0)
    os.rename(temporary, path)


def break_file(path, how, text):
    """Take the file at ``path`` away ``how``; an unreadable one holds the next version ``text``."""
    if how == "deleted":
        os.unlink(path)
    elif how == "unreadable":
        replace_unreadable(path, text)
    elif how == "a directory":
        os.unlink(path)
        os.mkdir(path)
        age(path)
    elif how == "directory removed":
        shutil.rmtree(os.path.dirname(path))


def mend_file(path, how, text):
    """Give the file at ``path`` back, holding ``text``."""
    if how == "unreadable":
        os.chmod(path, 0o644)  # only the mode changes: the content was written while unreadable
        return
    if how == "a directory":
        os.rmdir(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, text)


MESSAGES = {"deleted": "No such file or directory", "unreadable": "Permission denied",
            "a directory": "Is a directory", "directory removed": "No such file or directory"}


@pytest.mark.parametrize("how", sorted(MESSAGES))
def test_a_rules_file_gone_keeps_the_last_good_rules_with_one_error(switch, tmp_path, errors, monkeypatch, how):
    unreadable_as_a_non_root_reader(monkeypatch)
    os.mkdir(str(tmp_path / "conf"))
    path = str(tmp_path / "conf" / "rules.yaml")
    write(str(tmp_path / "conf" / "rates.csv"), DECK % "0.01")
    write(path, rules())
    store = process.store_for(path, switch, run_now)
    assert routed(path) == ("v1", "gw1", "0.01")
    sha = store.generation.rules.sha
    break_file(path, how, rules("v2", "gw2"))
    settle(switch, path)
    assert routed(path) == ("v1", "gw1", "0.01")
    assert errors() == ["fsroute: %s: error: cannot read the rules file: %s (keeping sha=%s)"
                        % (path, MESSAGES[how], sha)]
    if how == "directory removed":
        os.mkdir(str(tmp_path / "conf"))
        write(str(tmp_path / "conf" / "rates.csv"), DECK % "0.01")
    mend_file(path, how, rules("v2", "gw2"))
    settle(switch, path)
    assert routed(path) == ("v2", "gw2", "0.01")
    assert len(errors()) == 1


@pytest.mark.parametrize("how", sorted(MESSAGES))
def test_a_deck_gone_keeps_the_last_good_generation_with_one_error(switch, tmp_path, errors, monkeypatch, how):
    unreadable_as_a_non_root_reader(monkeypatch)
    os.mkdir(str(tmp_path / "decks"))
    deck = str(tmp_path / "decks" / "rates.csv")
    path = str(tmp_path / "rules.yaml")
    write(deck, DECK % "0.01")
    write(path, rules(deck="decks/rates.csv"))
    store = process.store_for(path, switch, run_now)
    assert routed(path) == ("v1", "gw1", "0.01")
    sha = store.generation.rules.sha
    break_file(deck, how, DECK % "0.02")
    settle(switch, path)
    assert routed(path) == ("v1", "gw1", "0.01")
    assert errors() == ["fsroute: %s: error: cannot read the rate deck: %s (keeping sha=%s)"
                        % (deck, MESSAGES[how], sha)]
    mend_file(deck, how, DECK % "0.02")
    settle(switch, path)
    assert routed(path) == ("v1", "gw1", "0.02")
    assert len(errors()) == 1


def test_a_broken_rules_file_is_reported_once_though_a_deck_changes_under_it(switch, tmp_path, errors):
    # Seen in the soak: a deck rewritten while a broken version was in force had the rules read
    # again, and the same ERROR logged a second time.
    path, deck = live(switch, tmp_path)
    write(path, rules(name="v2") + "  - {name: broken\n")
    settle(switch, path)
    assert len(errors()) == 1 and "invalid YAML" in errors()[0]
    write(deck, DECK % "0.02")
    settle(switch, path)
    assert routed(path) == ("v1", "gw1", "0.01")  # the last good rules and their deck, as they were
    assert len(errors()) == 1, errors()
    write(path, rules(name="v3"))
    settle(switch, path)
    assert routed(path) == ("v3", "gw1", "0.02")
