"""The state machine: every allowed move happens, every other move is refused, and the
conditional UPDATEs that move rows in the database obey the same table."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from pixtools.models.state import (
    TRANSITIONS,
    DeliveryStatus,
    IllegalTransition,
    Status,
    allowed,
    move,
    sources,
)

Q, R, S, F, E = Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.EXPIRED
D = DeliveryStatus

# The life of each kind of row, written out as docs/architecture.md draws it. The module's
# table must say exactly this: a move added or lost there fails here.
EXPECTED = {
    "job": {(Q, R), (Q, S), (Q, F), (Q, E), (R, S), (R, F), (R, E), (S, E), (F, Q), (F, E)},
    "output": {(Q, R), (Q, F), (R, S), (R, F), (F, Q)},
    "step": {(Q, R), (Q, F), (R, S), (R, F), (R, Q), (S, Q), (F, Q)},
    "delivery": {(D.PENDING, D.SENDING), (D.SENDING, D.PENDING), (D.SENDING, D.SENDING),
                 (D.SENDING, D.DELIVERED), (D.SENDING, D.FAILED), (D.SENDING, D.DEAD),
                 (D.SENDING, D.DISABLED)},
}
STATUSES = {"job": list(Status), "output": [Q, R, S, F], "step": [Q, R, S, F],
            "delivery": list(DeliveryStatus)}


@dataclass
class Row:
    status: str
    id: int = 7


def every_pair():
    for kind, statuses in STATUSES.items():
        for source, target in itertools.product(statuses, repeat=2):
            yield kind, source, target


def test_the_table_is_the_documented_one():
    for kind, expected in EXPECTED.items():
        table = {(src, dst) for src, targets in TRANSITIONS[kind].items() for dst in targets}
        assert table == expected, kind


@pytest.mark.parametrize(("kind", "source", "target"), list(every_pair()))
def test_every_move_is_allowed_or_refused_as_the_table_says(kind, source, target):
    row = Row(status=source)
    if (source, target) in EXPECTED[kind] or source == target:
        move(kind, row, target)
        assert row.status == target
    else:
        with pytest.raises(IllegalTransition, match=f"{kind} 7: {source} → {target}"):
            move(kind, row, target)
        assert row.status == source  # nothing moved
    assert allowed(kind, source, target) == ((source, target) in EXPECTED[kind])


def test_sources_are_what_conditional_updates_match():
    assert sources("step", R) == {Q}
    assert sources("job", S) & sources("job", F) == {Q, R}  # what finalisation may end
    assert sources("job", E) == {Q, R, S, F}
    assert sources("delivery", D.SENDING) == {D.PENDING, D.SENDING}
    assert sources("output", S) == {R}
