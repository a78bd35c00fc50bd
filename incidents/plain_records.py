"""Plain records read in one pass: the times and values of ``[{"ts": 1795766400, "values": [101.5,
4.2]}, ...]``, the form of nearly every ``POST /anomaly/score`` body.

A compiled module (:mod:`detectors.kernel`): one loop over 100,000 records takes about a third
of the dozen passes of C builtins (``set(map(type, ...))`` and the like) that read them as
Python, because each record is looked at once. Anything else (a time as text, a null, a
boolean, a missing or unknown key, rows of different widths) gets ``None``, and
:func:`api.records.record_columns` reads the records as before.
"""

from __future__ import annotations

from typing import Any


def plain_rows(records: list[Any]) -> tuple[list[float], list[float], int] | None:
    """The times, the values row after row, and the width of the rows of ``records`` when each
    is exactly ``{"ts": number, "values": [number, ...]}`` (a number: ``int`` or ``float``, not
    ``bool``) and all rows have one width, not 0; else None. Integers become floats as
    ``float()`` makes them (None when one is too large for a float).

    Examples
    --------
    >>> plain_rows([{"ts": 0, "values": [1, 2.5]}, {"values": [3.0, 4], "ts": 10.5}])
    ([0.0, 10.5], [1.0, 2.5, 3.0, 4.0], 2)
    >>> [plain_rows(r) for r in ([], [{"ts": 0, "values": [None]}], [{"ts": "0", "values": [1]}])]
    [None, None, None]
    >>> plain_rows([{"ts": 0, "values": [True]}]), plain_rows([{"ts": 0, "values": [10**400]}])
    (None, None)
    >>> plain_rows([{"ts": 0, "values": [1]}, {"ts": 1, "values": [1, 2]}])
    """
    times: list[float] = []
    flat: list[float] = []
    width = -1
    try:
        for record in records:
            if type(record) is not dict:
                return None
            fields: dict[str, Any] = record
            if len(fields) != 2:
                return None
            if not _add_number(times, fields.get("ts")):  # missing: None, as a null
                return None
            row = fields.get("values")
            if type(row) is not list:
                return None
            values: list[Any] = row
            if len(values) != width:
                if width >= 0 or not values:
                    return None
                width = len(values)
            for value in values:
                if not _add_number(flat, value):
                    return None
    except OverflowError:  # an integer past the largest float
        return None
    if width < 0:
        return None
    return times, flat, width


def _add_number(numbers: list[float], value: Any) -> bool:
    """Append ``value`` to ``numbers`` as a float when it is an ``int`` or a ``float`` (not a
    ``bool``); whether it was.

    >>> numbers = []
    >>> [_add_number(numbers, v) for v in (2, 2.5, True, None)], numbers
    ([True, True, False, False], [2.0, 2.5])
    """
    if type(value) is float:
        numbers.append(value)
    elif type(value) is int:
        numbers.append(float(value))
    else:
        return False
    return True
