"""fsroute's start-up hook: python.conf.xml <param name="startup-script" value="fsroute_startup [RULES]"/>.

Copy this file into FreeSWITCH's script dir. When mod_python3 loads it calls
``runtime(args)`` in a thread of its own, ``args`` being what follows the
module name ("" when nothing does). It loads the rules once so the first
call does not pay for parsing; calls work without it.
"""


def runtime(args):
    try:
        from fsroute.ctl import preload
    except ImportError as exc:
        import freeswitch
        freeswitch.consoleLog(
            "err",
            "fsroute_startup: fsroute is not importable in FreeSWITCH's Python (%s: %s); "
            "install it with its dependencies into the script dir, e.g. "
            "'python3 -m pip install --target /usr/share/freeswitch/scripts fsroute-<version>.whl' "
            "(fs_scripts/README.md)\n" % (type(exc).__name__, exc))
        return
    preload(args)
