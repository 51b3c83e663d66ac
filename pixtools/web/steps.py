"""The builder's steps: one section per operation of the registry, each with the controls
its declared parameters call for, in the order the person put them (the ``step`` fields
the builder sends).

An operation's new parameter shows up here without template changes: its controls come
from ``Operation.describe()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import operations
from .controls import Control

Raw = Callable[[str], "str | None"]


def untouched(name: str) -> str | None:
    """What a section the person did not use reads: nothing, so its defaults show."""
    return None


@dataclass
class StepSection:
    """One operation of the registry, run by every output when ``active``."""

    op: str
    summary: str
    queue: str
    toggle: Control
    controls: list[Control]
    error: str | None = None
    # Set by ``build``: listed by the builder's ``step`` fields, or (a form posted without
    # them) switched on or given a value.
    active: bool = False

    @property
    def enabled(self) -> bool:
        # An unticked box is indistinguishable from an untouched one, so a switch alone
        # never turns a step on; typed values (numbers, choices, text) do.
        return self.toggle.checked or any(
            c.changed for c in self.controls if c.param["type"] != "boolean"
        )

    def params(self) -> dict[str, Any]:
        """The parameters to send: what differs from the defaults, and every required one."""
        chosen = {}
        for control in self.controls:
            value = control.value()
            if value is not None and (value != control.default or control.param["required"]):
                chosen[control.param["name"]] = value
        return chosen


def ordered_ops() -> list[operations.Operation]:
    """The steps in the order they run: each operation's ``form_rank``; the conversion is
    not a step here (its formats are the outputs)."""
    ops = [op for op in operations.REGISTRY.values() if not op.encoding]

    def rank(op: operations.Operation) -> tuple[int, int]:
        # Models (the ml queue) are trained on untouched pixels: they run first.
        return (0 if op.queue == "ml" else 1, op.form_rank)

    return sorted(ops, key=rank)


def section(op: operations.Operation, raw: Raw) -> StepSection:
    toggle_param = {"name": op.name, "type": "boolean", "required": False,
                    "default": False, "description": ""}
    return StepSection(
        op=op.name, summary=op.summary, queue=op.queue,
        toggle=Control(f"step.{op.name}", toggle_param, raw(f"step.{op.name}"),
                       label=f"Use {op.name}"),
        controls=[Control(f"{op.name}.{p['name']}", p, raw(f"{op.name}.{p['name']}"))
                  for p in op.describe()["params"]],
    )


def arrange(steps: list[StepSection], listed: list[str]) -> list[StepSection]:
    """The builder's steps in the order the ``step`` fields list them, then the others (in
    the registry's order). A form without ``step`` fields (an older page, a script) uses
    the steps it switched on or gave values to, in the registry's order."""
    by_op = {section.op: section for section in steps}
    if not listed:
        for section in steps:
            section.active = section.enabled
        return sorted(steps, key=lambda section: not section.active)
    chosen = [by_op[op] for op in dict.fromkeys(listed) if op in by_op]
    for section in chosen:
        section.active = True
    return chosen + [section for section in steps if not section.active]
