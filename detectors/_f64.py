"""Little-endian float64 bytes, written and read a value at a time: :mod:`librt.strings`' API.

The adaptive detector's block walk (:meth:`detectors.adaptive_step.FeatureStep.walk`) reads a
block's values and times from bytes and writes its results to a ``BytesWriter``, which the
compiled module does natively (mypyc's runtime library, ``librt``, comes with mypy). Where
``librt`` is not installed (an install without the test extras, which runs the Python modules)
these give the same bytes through :mod:`struct`.

>>> out = BytesWriter()
>>> write_f64_le(out, 1.5)
>>> write_f64_le(out, -0.0)
>>> data = out.getvalue()
>>> data == struct.pack("<2d", 1.5, -0.0), read_f64_le(data, 8)
(True, -0.0)
"""

from __future__ import annotations

import struct

_F64 = struct.Struct("<d")


class BytesWriter:
    """Bytes appended to, then read at once (:meth:`getvalue`)."""

    def __init__(self) -> None:
        self._data = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self._data)


def write_f64_le(writer: BytesWriter, value: float) -> None:
    """Append ``value`` to ``writer`` as a little-endian float64."""
    writer._data += _F64.pack(value)


def read_f64_le(data: bytes, index: int) -> float:
    """The little-endian float64 at byte ``index`` of ``data``."""
    value: float = _F64.unpack_from(data, index)[0]
    return value
