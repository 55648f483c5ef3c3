"""fsroute: call routing for FreeSWITCH from one hot-reloaded YAML rules file.

The package body is imported once per FreeSWITCH run (mod_python3 reloads
only the entry module, ``fsroute.route``), so nothing here may depend on
per-call state.
"""

__version__ = "0.1.0"
