"""The dialplan application: <action application="python" data="fsroute.route [RULES]"/>.

mod_python3 re-executes this module on every call, so it only binds the
entry point; everything else lives in modules imported once.
"""

from fsroute.runtime.call import handle as handler  # noqa: F401  (mod_python3 calls handler(session, args))
