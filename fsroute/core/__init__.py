"""The pure core: the rules grammar and model, ACLs, the route index, selection and the decision.

No I/O, no clock, never imports ``freeswitch``: everything here can be tested alone.
"""
