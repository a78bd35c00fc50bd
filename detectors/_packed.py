"""Floats stored exactly in fewer bytes: little-endian float64, base64 text.

A computed float's shortest JSON form takes 17 to 20 characters; its 8 bytes take 10⅔ in
base64, and they are the float itself, so a state packed this way restores bit for bit.
``None`` is stored as NaN, for fields that are finite when set. Floats rounded to a few
decimals are stored as integers of their last decimal (:func:`pack_decimals`), checked to come
back bit for bit.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import math
import struct
from collections.abc import Sequence

import numpy as np

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


def pack_sparse(values: Sequence[float | None]) -> str:
    """``values`` as :func:`pack_floats` does, but those that are 0.0 (not -0.0) left out and
    named by a bit mask in hex before a colon (base64 has none): ``"<mask>:<the others>"``.
    Without a 0.0 it is :func:`pack_floats`'s text; :func:`unpack_floats` reads both.

    Examples
    --------
    >>> pack_sparse([0.0, 0.1, 0.0]), pack_sparse([0.1, -0.0])
    ('5:mpmZmZmZuT8=', 'mpmZmZmZuT8AAAAAAAAAgA==')
    >>> unpack_floats("state", pack_sparse([0.0, 0.1, None, 0.0]), 4)
    [0.0, 0.1, nan, 0.0]
    """
    mask, kept = 0, []
    for k, v in enumerate(values):
        if v is not None and v == 0.0 and math.copysign(1.0, v) > 0.0:
            mask |= 1 << k
        else:
            kept.append(v)
    if not mask:
        return pack_floats(values)
    return f"{mask:x}:" + pack_floats(kept)


def packed_count(text: str) -> int:
    """How many floats :func:`pack_floats` or :func:`pack_sparse` wrote into ``text`` (the
    bytes it decodes to, and the bits of a sparse text's mask); 0 for text neither wrote.

    >>> packed_count(pack_floats([0.1, 0.2])), packed_count(pack_sparse([0.0, 0.1, 0.0]))
    (2, 3)
    """
    mask, _, rest = text.rpartition(":")
    try:
        zeros = bin(int(mask, 16)).count("1") if mask else 0
        return zeros + len(binascii.a2b_base64(rest)) // 8
    except (ValueError, binascii.Error):
        return 0


def unpack_floats(owner: str, text: object, count: int) -> list[float]:
    """The ``count`` floats :func:`pack_floats` (or :func:`pack_sparse`) wrote (NaN where it
    was given None).

    Examples
    --------
    >>> unpack_floats("trend state", "mpmZmZmZuT8=", 2)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: trend state must hold 2 packed floats, got 'mpmZmZmZuT8='
    >>> unpack_floats("trend state", "8:mpmZmZmZuT8=", 2)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: trend state must hold 2 packed floats, got '8:mpmZmZmZuT8='
    """
    if isinstance(text, str) and ":" in text:
        head, _, body = text.partition(":")
        try:
            mask = int(head, 16) if head.isalnum() else -1
        except ValueError:
            mask = -1
        zeros = mask.bit_count() if 0 <= mask < 1 << count else count + 1
        if zeros > count:
            raise DetectorError(f"{owner} must hold {count} packed floats, got {text!r}")
        kept = iter(
            _layout(count - zeros).unpack(
                unpack_bytes(owner, body, 8 * (count - zeros), f"{count} packed floats")
            )
        )
        return [0.0 if mask >> k & 1 else next(kept) for k in range(count)]
    return list(
        _layout(count).unpack(unpack_bytes(owner, text, 8 * count, f"{count} packed floats"))
    )


def unpack_bytes(owner: str, text: object, size: int, what: str) -> bytes:
    """The ``size`` bytes base64 ``text`` holds, or a DetectorError saying ``owner`` must hold
    ``what``.

    >>> unpack_bytes("peaks", "AAAAAA==", 4, "1 float32")
    b'\\x00\\x00\\x00\\x00'
    """
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise DetectorError(f"{owner} must hold {what}, got {text!r}")
    return raw


def optional(value: float) -> float | None:
    """None for NaN (a field packed as None), else the value.

    Examples
    --------
    >>> optional(math.nan), optional(2.0)
    (None, 2.0)
    """
    return None if math.isnan(value) else value


_CODES, _LIMITS = "bhiq", (1 << 7, 1 << 15, 1 << 31, 1 << 53)  # struct codes, the ints they hold


def pack_decimals(values: Sequence[float]) -> str | None:
    """``values`` as integers of ``10**-d`` units, for the smallest ``d`` (at most 9) that gives
    every value back bit for bit, packed little-endian in the fewest bytes that hold them all
    (1, 2, 4 or 8), as base64 after ``d`` and the width's struct code; None when no such ``d``
    exists (then store the floats as they are). Values rounded to a few decimals (the adaptive
    threshold's scores: 6 significant digits) take 2 to 4 bytes instead of 8.

    Examples
    --------
    >>> pack_decimals([1.8376, 0.396, 2.0])
    '4hyEd4DyBO'
    >>> unpack_decimals("history", pack_decimals([1.8376, 0.396, 2.0]))
    [1.8376, 0.396, 2.0]
    >>> pack_decimals([0.1 + 0.2]), pack_decimals([-0.0]), pack_decimals([math.inf])
    (None, None, None)
    >>> pack_decimals([0.00781274, 91000000.0]) is None  # 9.1e15 units of 1e-8: not floats
    True
    """
    floats = np.fromiter(values, np.float64, len(values))
    if not floats.size:
        return "0b"
    big = max(float(floats.max()), -float(floats.min()))  # the largest magnitude
    if not big < 9e9:  # also NaN and inf
        return None
    bits = floats.tobytes()
    for digits in (6, 7, 8, 9):
        scale = 10.0**digits
        ints = np.rint(floats * scale).astype(np.int64)
        if (ints / scale).tobytes() == bits:  # bit for bit: -0.0 comes back 0.0, refused
            break
    else:
        return None
    largest = round(big * scale)
    if digits == 6:  # drop the decimals no value needs
        common, drop = int(np.gcd.reduce(ints)), 0
        while drop < 6 and common and common % 10 == 0:
            common //= 10
            drop += 1
        if drop:
            ints //= 10**drop
            digits -= drop
            largest //= 10**drop
    width = bisect.bisect_right(_LIMITS, largest)
    if width == len(_LIMITS):  # beyond 2**53 an integer is not always a float
        return None
    code = _CODES[width]
    raw = ints.astype(f"<{code}").tobytes()
    return f"{digits}{code}" + binascii.b2a_base64(raw, newline=False).decode("ascii")


def unpack_decimals(owner: str, text: str) -> list[float]:
    """The values :func:`pack_decimals` packed into ``text``.

    Examples
    --------
    >>> unpack_decimals("threshold history", "4x")
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: threshold history is not packed decimals: '4x'
    >>> unpack_decimals("threshold history", "4")
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: threshold history is not packed decimals: '4'
    """
    digits, code, body = text[:1], text[1:2], text[2:]
    ints = None
    if digits in "0123456789" and digits and code and code in _CODES:
        try:
            raw = base64.b64decode(body, validate=True)
            ints = struct.unpack(f"<{len(raw) // struct.calcsize(code)}{code}", raw)
        except (ValueError, struct.error):
            pass
    if ints is None:
        raise DetectorError(f"{owner} is not packed decimals: {text!r}")
    scale = 10 ** int(digits)
    return [k / scale for k in ints]
