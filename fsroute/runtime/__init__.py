"""What lives in the switch: the live rules and their reload, gateway states, one call's handling, logging.

Imports the core; never imported by it.
"""
