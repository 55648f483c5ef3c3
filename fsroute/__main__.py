"""``python3 -m fsroute ...``: the CLI where only the package is installed (e.g. pip --target into the scripts dir)."""

import sys

from fsroute.tools.cli import main

sys.exit(main())
