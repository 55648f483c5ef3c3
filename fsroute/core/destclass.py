"""A number's destination class for the quality windows: from number tables, else from prefix lists.

Apart from quality.py because the rules' model names quality's records,
and a table (tablerows) names the model: the lookup through tables sits
above both.
"""

from __future__ import annotations

from typing import Optional

from .quality import QualitySettings, class_of
from .tablerows import TableOf


def class_for(settings: QualitySettings, number: str, table_of: Optional[TableOf], now: float) -> Optional[str]:
    """A number's destination class: from the first class table with a row for it in force at ``now``
    (in the generation's loaded tables, ``table_of``; an empty cell gives none), else from the prefix
    lists (class_of)."""
    for entry in settings.class_tables:
        bound = table_of(entry.table) if table_of is not None else None
        row = bound.find(number, now)[0] if bound is not None else -1
        if bound is None or row < 0:
            continue
        if entry.column is None:
            return entry.table
        values = bound.spec.layout.values
        cell = bound.table.cells(row)[values.index(entry.column)] if entry.column in values else ""
        if cell:
            return cell
    return class_of(settings.classes, number) if settings.classes else None
