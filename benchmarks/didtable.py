"""The DID table both tables.py and reload_pause.py load: 11-digit numbers, 500 customer trunks.

Written once into a cache directory (generating 10,000,000 rows takes a while) and read by both
benchmarks; kept here so neither imports the other.
"""

import os
import sys

FIRST_DID = 15550000000
RULES = """\
version: 1
tables:
  dids:
    file: %s
    key: exact
    columns: {key: number, target: target}
routes:
  - name: dids
    match: {destination_number: '^(\\d{11})$'}
    table: dids
  - name: plain
    match: {destination_number: '^9(\\d+)$'}
    number: '$1'
    gateway: gwplain
"""


def progress(text):
    print(text, file=sys.stderr, flush=True)


def write_once(path, header, rows):
    """Write ``rows`` (an iterator of lines) under ``header`` to ``path`` unless it is there already."""
    if os.path.exists(path):
        return path
    progress("generating %s" % path)
    with open(path + ".part", "w") as handle:
        handle.write(header)
        batch = []
        for line in rows:
            batch.append(line)
            if len(batch) >= 100000:
                handle.write("".join(batch))
                batch = []
        handle.write("".join(batch))
    os.replace(path + ".part", path)
    return path


def exact_rows(count):
    return ("%d,gw%d\n" % (FIRST_DID + 3 * i, i % 500) for i in range(count))
