"""Where each telemetry partition's stream stands, kept with the state it produced.

The consumer group's committed offsets cannot be trusted to say which messages were applied:
Faust commits the offsets of records it fetched and dropped around a rebalance (it fills "gaps"
in what it saw as acknowledged), and a worker taking over a partition that nobody had committed
yet may start where the fetcher stands rather than at the start. Either way messages are skipped
for good. So the engine keeps its own position per (topic, partition): the offset of the next
message to apply, written to the ``entity_state`` table under a reserved key, in the same
changelog partition as the rows of that partition's entities and after them, so a row is never
ahead of its position. A message beyond the position (a gap) is not applied: the partition is
sought back to the position and the messages in between are read again (those already applied
to their entity's row are skipped by the row's own offset).

Records fetched before the seek (beyond the offset that showed the gap) are dropped until the
re-read arrives, and the partition is sought again after each batch of them: while Faust hands
them over it moves its own read offset past the seek and silently drops the re-read records.
For the same reason a re-read that starts beyond the position is not trusted at once: the
partition is sought again, and only a second re-read starting at the same record shows a real
gap (records removed by retention, transaction markers), from which the stream goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.telemetry.messages import RESERVED_PREFIX

log = logging.getLogger(__name__)

RESEEK_AFTER_S = 5.0  # a rewind that brought nothing back by then is asked again


def position_key(topic: str, partition: int) -> str:
    """The ``entity_state`` key of a partition's position.

    >>> position_key("telemetry.metrics", 3)
    '\\x00position telemetry.metrics:3'
    """
    return f"{RESERVED_PREFIX}position {topic}:{partition}"


def stored_position(row: Mapping[str, Any] | None) -> int | None:
    """The next offset to apply, from a position row (None: the partition was never read)."""
    if not isinstance(row, Mapping) or not isinstance(row.get("next"), int):
        return None
    return int(row["next"])


@dataclass
class Rewind:
    """A partition sought back to ``position`` after a record at ``seen`` showed a gap."""

    position: int
    seen: int
    asked_at: float
    later_start: int | None = None  # where a re-read began beyond the position, if one did


class PartitionPositions:
    """Decides, per record, whether it may be applied, and remembers rewinds in progress.

    Examples
    --------
    >>> positions = PartitionPositions()
    >>> positions.check("t", 0, 5, stored=5)  # the next one: apply
    'apply'
    >>> positions.check("t", 0, 3, stored=5)  # applied before: its row skips it
    'apply'
    >>> positions.check("t", 0, 9, stored=5)  # 5-8 missing: read them again
    'rewind'
    >>> positions.check("t", 0, 10, stored=5)  # fetched before the seek
    'drop'
    >>> positions.check("t", 0, 5, stored=5)  # the rewind came back
    'apply'
    """

    def __init__(self) -> None:
        self._rewinds: dict[tuple[str, int], Rewind] = {}
        self._generation: int | None = None

    def new_generation(self, generation: int) -> None:
        """Forget rewinds of an earlier assignment: the partition was sought again since."""
        if generation != self._generation:
            self._generation = generation
            self._rewinds.clear()

    def check(self, topic: str, partition: int, offset: int, stored: int | None) -> str:
        """``"apply"`` (score it: the next record, or one its row already holds), ``"rewind"``
        (records are missing before it: seek to :meth:`rewind_to`), or ``"drop"`` (fetched
        before a rewind; it comes again)."""
        key = (topic, partition)
        rewind = self._rewinds.get(key)
        if rewind is not None:
            if offset > rewind.seen:
                return "drop"
            if offset > rewind.position and offset != rewind.later_start:
                # Maybe the records before it were dropped on the way: read again to be sure.
                rewind.later_start = rewind.seen = offset
                rewind.asked_at = time.monotonic()
                return "drop"
            del self._rewinds[key]
            log.info("%s[%d]: read again from %d", topic, partition, offset)
            if offset > rewind.position:
                log.warning(
                    "%s[%d]: offsets %d to %d are not on the broker (retention or transaction "
                    "markers); going on from %d",
                    topic,
                    partition,
                    rewind.position,
                    offset - 1,
                    offset,
                )
            return "apply"
        expected = 0 if stored is None else stored
        if offset <= expected:
            return "apply"
        self._rewinds[key] = Rewind(expected, offset, time.monotonic())
        log.warning(
            "%s[%d]: offset %d arrived but %d is the next to apply; reading from %d again",
            topic,
            partition,
            offset,
            expected,
            expected,
        )
        return "rewind"

    def rewind_to(self, topic: str, partition: int) -> int | None:
        """The offset to seek ``partition`` to, if a rewind of it is in progress."""
        rewind = self._rewinds.get((topic, partition))
        return None if rewind is None else rewind.position

    def overdue(self) -> list[tuple[str, int, int]]:
        """Rewinds that brought nothing back within ``RESEEK_AFTER_S``: (topic, partition,
        position) to seek again."""
        now = time.monotonic()
        late = []
        for (topic, partition), rewind in self._rewinds.items():
            if now - rewind.asked_at > RESEEK_AFTER_S:
                rewind.asked_at = now
                late.append((topic, partition, rewind.position))
                log.warning(
                    "%s[%d]: nothing read again from %d yet; seeking again",
                    topic,
                    partition,
                    rewind.position,
                )
        return late
