"""Floats stored exactly in fewer bytes: little-endian float64, base64 text.

A computed float's shortest JSON form takes 17 to 20 characters; its 8 bytes take 10⅔ in
base64, and they are the float itself, so a state packed this way restores bit for bit.
``None`` is stored as NaN, for fields that are finite when set.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import struct
from collections.abc import Sequence

from detectors.base import DetectorError


@functools.cache
def _layout(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}d")


def pack_floats(values: Sequence[float | None]) -> str:
    """``values`` as base64 of float64s (None as NaN).

    Examples
    --------
    >>> pack_floats([0.1, None])
    'mpmZmZmZuT8AAAAAAAD4fw=='
    >>> unpack_floats("state", pack_floats([0.1, 1 / 3, -0.0]), 3)
    [0.1, 0.3333333333333333, -0.0]
    """
    layout = _layout(len(values))
    try:
        raw = layout.pack(*values)
    except struct.error:  # a None among them
        raw = layout.pack(*[math.nan if v is None else v for v in values])
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def unpack_floats(owner: str, text: object, count: int) -> list[float]:
    """The ``count`` floats :func:`pack_floats` wrote (NaN where it was given None).

    Examples
    --------
    >>> unpack_floats("trend state", "mpmZmZmZuT8=", 2)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: trend state must hold 2 packed floats, got 'mpmZmZmZuT8='
    """
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 8 * count:
        raise DetectorError(f"{owner} must hold {count} packed floats, got {text!r}")
    return list(_layout(count).unpack(raw))


def optional(value: float) -> float | None:
    """None for NaN (a field packed as None), else the value.

    Examples
    --------
    >>> optional(math.nan), optional(2.0)
    (None, 2.0)
    """
    return None if math.isnan(value) else value
