"""One conditional UPDATE of a loaded row: how the workers' hot path writes job state.

A row is written with one plain statement rather than through the ORM's unit of work (no
flush, no walk of the object graph), and each shape of statement is built once per process,
so neither building it nor computing its cache key is paid again. For a small image, those
were most of a task's CPU. On a match the loaded row takes the new values as its committed
state: nothing writes them twice, and the task's later reads of the row see them.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import Update

from ..db import db
from ..models.state import RUNNING, Kind, sources


@functools.cache
def _statement(table: Table, kind: Kind | None, target: str | None, fenced: bool,
               names: tuple[str, ...]) -> Update:
    columns = table.c
    where = [columns.id == bindparam("w_id")]
    if kind is not None and target is not None:
        # Plain comparisons, not IN: an IN list is expanded again at every execution.
        where.append(or_(*(columns.status == source for source in sorted(sources(kind, target)))))
    if fenced:
        where += [columns.status == RUNNING, columns.attempts == bindparam("w_attempt")]
    values = {name: bindparam(f"v_{name}", type_=columns[name].type) for name in names}
    return update(table).where(*where).values(**values)


def write(row: Any, *, move: tuple[Kind, str] | None = None, held_by: int | None = None,
          **values: Any) -> bool:
    """Set ``values`` on ``row``'s table row (not committed); False if it did not match.

    ``move=(kind, target)`` also moves its status to ``target``, only from a status the
    transition table allows; ``held_by=attempt`` writes only while the step is running
    under that attempt (a worker's fence: see ``steps``).
    """
    kind, target = move if move is not None else (None, None)
    if target is not None:
        values["status"] = target
    statement = _statement(type(row).__table__, kind, target, held_by is not None,
                           tuple(sorted(values)))
    params = {"w_id": row.id, **{f"v_{name}": value for name, value in values.items()}}
    if held_by is not None:
        params["w_attempt"] = held_by
    if db.session.execute(statement, params).rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        set_committed_value(row, name, value)
    return True
