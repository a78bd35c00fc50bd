"""The body of a `POST /anomaly/score` answer, encoded with orjson from the worker's columns.

A ``PointOut`` model per point, validated again as part of ``ScoreOut`` and then serialised,
cost about 10 µs a point; the same JSON built as dicts from the columns costs under 1 µs (each a
copy of one template dict with its six values set: 30 % faster than a dict display). Encoded
:data:`CHUNK` points at a time, the same dicts serve every chunk (their six values set again),
so 100,000 points cost 500 dicts instead of 100,000 made and freed, and the pages of memory
the answer touches for the first time (each a page fault) are those of the answer alone. The
small parts (ids, incidents, metrics, forecast) still go through ``ScoreOut``, so the answer
keeps its documented shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from api.schemas.score import QualityOut, ScoreOut
from detectors.quality_counters import QualityCounters

COLUMNS = ("ts", "score", "threshold", "is_anomaly", "warm", "alert")
_EXTRA_FIELDS = ("suppressed_by", "incident_id", "root_cause", "correlated")
CHUNK = 500  # points encoded at a time by result_pieces (about 95 kB of JSON)
_EMPTY_RESULTS = b'"results":[]'


# A point with nothing more to say, in ``PointOut``'s field order: "correlated" is one shared
# empty array (no list to allocate per point), the values are set per point.
_QUIET: dict[str, Any] = {
    "ts": None,
    "score": None,
    "threshold": None,
    "is_anomaly": None,
    "correlated": (),
    "warm": None,
    "alert": None,
    "suppressed_by": None,
    "incident_id": None,
    "root_cause": None,
}


def points_to_columns(points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Point objects (``PointOut`` fields) as the columns a worker replies with.

    Examples
    --------
    >>> points_to_columns([{"ts": 1.0, "score": 0.5, "threshold": 3.0, "is_anomaly": False,
    ...                     "warm": True, "alert": False, "incident_id": "inc-1"}])["extra"]
    [[0, {'incident_id': 'inc-1'}]]
    """
    columns: dict[str, Any] = {name: [p.get(name, False) for p in points] for name in COLUMNS}
    columns["extra"] = [
        [k, fields]
        for k, p in enumerate(points)
        if (fields := {name: p[name] for name in _EXTRA_FIELDS if p.get(name)})
    ]
    return columns


def result_points(columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``results`` of a score answer from the columns, fields in ``PointOut``'s order, for
    orjson to encode.

    Examples
    --------
    >>> columns = {"ts": [0.0, 10.0], "score": [0.5, None], "threshold": [3.0, 3.0],
    ...            "is_anomaly": [False, True], "warm": [True, True], "alert": [False, True],
    ...            "extra": [[1, {"root_cause": "cpu 160"}]]}
    >>> from api.schemas.score import PointOut
    >>> points = orjson.loads(orjson.dumps(result_points(columns)))
    >>> [PointOut(**p).model_dump() == p for p in points]
    [True, True]
    """
    points: list[dict[str, Any]] = []
    add, quiet = points.append, _QUIET.copy  # a copy of a dict is faster than a dict display
    for t, s, h, f, w, a in zip(*(columns[name] for name in COLUMNS), strict=True):
        point = quiet()
        point["ts"], point["score"], point["threshold"] = t, s, h
        point["is_anomaly"], point["warm"], point["alert"] = f, w, a
        add(point)
    for k, fields in columns["extra"]:
        points[k].update((name, fields[name]) for name in _EXTRA_FIELDS if name in fields)
    return points


def results_json(columns: Mapping[str, Any]) -> bytes:
    """The JSON array of :func:`result_points`, the same bytes (see :func:`result_pieces`).

    Examples
    --------
    >>> columns = {"ts": [0.0, 10.0, 20.0], "score": [0.5, None, 9.0], "threshold": [3.0] * 3,
    ...            "is_anomaly": [False, False, True], "warm": [True] * 3,
    ...            "alert": [False, False, True], "extra": [[2, {"incident_id": "inc-1"}]]}
    >>> results_json(columns) == orjson.dumps(result_points(columns))
    True
    >>> results_json({name: [] for name in (*COLUMNS, "extra")})
    b'[]'
    """
    return b"".join([b"[", *result_pieces(columns), b"]"])


def result_pieces(columns: Mapping[str, Any]) -> list[bytes]:
    """The inside of the JSON array of :func:`result_points` in pieces (chunks of :data:`CHUNK`
    points and the commas between them), encoded with the same dicts for every chunk (a point
    with extra fields gets its own). A chunk's JSON (about 95 kB) stays under the size that
    malloc serves from fresh pages, so only the answer that joins them costs page faults."""
    data = [columns[name] for name in COLUMNS]
    n = len(data[0])
    if any(len(column) != n for column in data):
        raise ValueError("the columns of an answer have different lengths")
    extra: dict[int, list[tuple[int, Mapping[str, Any]]]] = {}  # by chunk, in order
    for k, fields in columns["extra"]:
        if not 0 <= k < n:
            raise IndexError(f"extra fields for point {k} of {n}")
        extra.setdefault(k // CHUNK, []).append((k, fields))
    reused = [_QUIET.copy() for _ in range(min(n, CHUNK))]
    pieces: list[bytes] = []
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        points = reused if stop - start == len(reused) else reused[: stop - start]
        for point, t, s, h, f, w, a in zip(
            points, *(column[start:stop] for column in data), strict=True
        ):
            point["ts"], point["score"], point["threshold"] = t, s, h
            point["is_anomaly"], point["warm"], point["alert"] = f, w, a
        special = extra.get(start // CHUNK)
        if special:
            points = list(points)  # the reused dicts stay without extra fields
            for k, fields in special:
                point = points[k - start]
                point = point.copy() if point is reused[k - start] else point
                point.update((name, fields[name]) for name in _EXTRA_FIELDS if name in fields)
                points[k - start] = point
        if pieces:
            pieces.append(b",")
        pieces.append(orjson.dumps(points)[1:-1])
    return pieces


def quality(columns: Mapping[str, Any], labels: Sequence[int]) -> QualityOut:
    """How the alerts did against ``labels``, point by point and by event."""
    counters = QualityCounters()
    for alert, label, ts in zip(columns["alert"], labels, columns["ts"], strict=True):
        counters.update(alert, label, ts)
    return QualityOut(**counters.snapshot())


def score_reply(head: ScoreOut, columns: Mapping[str, Any], *, as_columns: bool = False) -> bytes:
    """``head`` (a ``ScoreOut`` without results) with the points of ``columns``, as JSON: as
    ``results``, or ``as_columns`` as ``columns`` (lists encoded by orjson at once).

    Examples
    --------
    >>> head = ScoreOut(model_id="m", model_version="1", entity="e", dry_run=True, points_seen=0,
    ...                 anomalies=0, results=[], incidents=[])
    >>> columns = {"ts": [0.0], "score": [0.5], "threshold": [3.0], "is_anomaly": [False],
    ...            "warm": [True], "alert": [False], "extra": []}
    >>> answer = orjson.loads(score_reply(head, columns, as_columns=True))
    >>> answer["results"], answer["columns"]["score"]
    ([], [0.5])
    """
    body = head.model_dump(mode="json")
    if as_columns:
        body["columns"] = {name: columns[name] for name in (*COLUMNS, "extra")}
        return orjson.dumps(body)
    # The answer is built once, whole: the head's JSON with the points put into its empty
    # "results" array (the first '"results":[]' is the key: in the text of a string before it
    # every quote is escaped). Encoding the points apart and the head around them
    # (orjson.Fragment) would write the 19 MB of 100,000 points twice.
    encoded = orjson.dumps(body)
    at = encoded.index(_EMPTY_RESULTS) + len(_EMPTY_RESULTS) - 1
    return b"".join([encoded[:at], *result_pieces(columns), encoded[at:]])
