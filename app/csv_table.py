"""A CSV of timestamped values as the CLI reads it: a header row, then data rows by line number.

``anomaly-engine backtest`` reads NAB's ``timestamp,value`` files with it and ``anomaly-engine
produce`` any CSV with a timestamp column, value columns and optional ``entity`` and ``label``
columns. What a header, a timestamp cell and a number cell are is said here once; each command
words its own errors (they name the file and line).

Examples
--------
>>> table = CsvTable(["", "Timestamp,value,value", "2026-11-27 08:00:00, 1.5,2", " , "])
>>> table.header, table.header_line, table.column("ts", "timestamp"), table.column("value")
(['Timestamp', 'value', 'value'], 2, 0, 1)
>>> [(line, row) for line, row in table.rows()]
[(3, ['2026-11-27 08:00:00', ' 1.5', '2'])]
>>> number_cell(" 1.5"), number_cell(""), number_cell("nan"), number_cell("inf")
(1.5, None, None, None)
>>> number_cell("lots")
Traceback (most recent call last):
...
ValueError: could not convert string to float: 'lots'
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator

TIMESTAMP_COLUMNS = ("timestamp", "ts")


class CsvTable:
    """The header (stripped cell texts; None for a file with no non-blank row) and the data rows.

    Blank rows are skipped before the header and between rows. Column names are matched
    without regard to case; a name given twice is its first column.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self._reader = csv.reader(lines)
        self.header: list[str] | None = None
        self.header_line = 0
        for row in self._rows():
            self.header = [cell.strip() for cell in row]
            self.header_line = self._reader.line_num
            break
        names = [name.lower() for name in self.header or []]
        self._columns = {name: i for i, name in reversed(list(enumerate(names)))}

    def _rows(self) -> Iterator[list[str]]:
        for row in self._reader:
            if any(cell.strip() for cell in row):
                yield row

    def column(self, *names: str) -> int | None:
        """The index of the first of ``names`` the header has, else None."""
        for name in names:
            if name in self._columns:
                return self._columns[name]
        return None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """The data rows after the header, each with the line it ends on (read once)."""
        for row in self._rows():
            yield self._reader.line_num, row


def number_cell(text: str) -> float | None:
    """A value cell: None when empty or not finite (a gap); ValueError when not a number."""
    text = text.strip()
    if not text:
        return None
    value = float(text)
    return value if math.isfinite(value) else None
