"""fs_cli -x "python fsroute.ctl ..." as an operator types it, against the real switch."""

import re


def test_ctl_reload_status_and_test_through_fs_cli(fs):
    from .conftest import BASE_RULES
    sw = fs.switch
    sw.write_rules(BASE_RULES + "# test_control: a sha of its own, so counters start at zero\n")
    reload = sw.fs_cli("python fsroute.ctl reload %s" % sw.rules_path)
    assert re.match(r"\+OK reloaded %s sha=[0-9a-f]{12} routes=2\n" % re.escape(sw.rules_path), reload), reload
    sha = reload.split("sha=")[1].split()[0]
    fs.cdr(fs.call("91001"))  # the CDR is written once the handler has returned (and counted the call)
    status = sw.fs_cli("python fsroute.ctl status %s" % sw.rules_path)
    assert "rules: %s\nsha: %s\n" % (sw.rules_path, sha) in status
    assert "routes: 2  groups: 1  acls: 0\nversion: fsroute 0.1.0\nlast_error: none\n" in status
    assert "  gw1 (external): up (read " in status and "calls by result: bridged=1\n" in status, status
    assert "  prefix: 1\n  default: 0\n" in status
    # the embedded environment: the fsroute pip installed into the scripts dir, Debian's Python
    assert "fsroute: 0.1.0 from %s/fsroute\n" % sw.dir("scripts") in status
    assert re.search(r"\npython: 3\.\d+\.\d+ sys.prefix=/usr\n", status), status
    assert "freeswitch module: importable\n" in status and "PROBLEM" not in status

    test = sw.fs_cli("python fsroute.ctl test 91005 127.0.0.1 1000")
    assert test == ("destination: 91005  source: 127.0.0.1  caller: 1000\noutcome: route\nroute: prefix\n"
                    "number: 1005\ngateways: gw1\n  sofia/gateway/gw1/1005\n\n"), test
    assert fs.invites()["gw1"] == 1  # the dry run bridged nothing

    fs.switch.write_rules("version: 1\nroutes: [{name: x}]\n")
    bad = sw.fs_cli("python fsroute.ctl reload %s" % sw.rules_path)
    assert bad.startswith("-ERR %s:2:" % sw.rules_path), bad
    assert "sha: %s\n" % sha in sw.fs_cli("python fsroute.ctl status %s" % sw.rules_path)  # old rules kept
    assert sw.fs_cli("python fsroute.ctl frobnicate").startswith("-USAGE: python fsroute.ctl")
