"""How hard the generated tests try: a quick default run, a thorough one with HYPOTHESIS_PROFILE=ci.

The profiles are registered in conftest.py; tests that set their own example
count take it from ``examples`` so that it follows the profile too.
"""

import os

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "ci"


def examples(thorough):
    """``thorough`` in the ci profile; a tenth of it (at least 20) in the default one."""
    return thorough if THOROUGH else max(20, thorough // 10)
