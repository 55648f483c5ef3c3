"""Command-line tools (``fsroute check/simulate/...``): run outside FreeSWITCH, never on the call path."""
