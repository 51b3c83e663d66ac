"""``budget.run_within``: work runs on the worker's own runner thread, reused while it ends
in time; work past its budget is abandoned with its thread, and the next work gets a new one."""

from __future__ import annotations

import contextvars
import threading

import pytest

from pixtools.tasks import budget

WHO = contextvars.ContextVar("who", default="nobody")


def _thread() -> threading.Thread:
    return threading.current_thread()


def test_work_in_time_runs_on_one_reused_thread_other_than_the_worker() -> None:
    def worker(found: list[threading.Thread]) -> None:
        for _ in range(3):
            found.append(budget.run_within(budget.Deadline(5, "work"), _thread))

    found: list[threading.Thread] = []
    other: list[threading.Thread] = []
    workers = [threading.Thread(target=worker, args=(f,)) for f in (found, other)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert len(set(found)) == 1 and len(set(other)) == 1
    # Each worker has a runner of its own, and neither runs work on the worker itself.
    assert found[0] is not other[0]
    assert not set(found + other) & set(workers)


def test_errors_and_context_reach_the_worker() -> None:
    WHO.set("worker")
    assert budget.run_within(budget.Deadline(5, "work"), WHO.get) == "worker"
    with pytest.raises(ZeroDivisionError):
        budget.run_within(budget.Deadline(5, "work"), lambda: 1 / 0)
    # The runner survives an error in the work it ran.
    assert budget.run_within(budget.Deadline(5, "work"), lambda: 7) == 7


def test_work_past_its_budget_is_abandoned_and_the_next_gets_a_new_thread() -> None:
    release = threading.Event()

    def stuck() -> threading.Thread:
        release.wait(10)
        return threading.current_thread()

    before = budget.run_within(budget.Deadline(5, "work"), _thread)
    with pytest.raises(budget.OverBudget, match=r"time budget of 0\.2 s"):
        budget.run_within(budget.Deadline(0.2, "resize"), stuck)
    after = budget.run_within(budget.Deadline(5, "work"), _thread)
    assert after is not before and after.is_alive()
    # The abandoned thread ends once its work returns, instead of waiting for more.
    release.set()
    before.join(5)
    assert not before.is_alive()
    again = budget.run_within(budget.Deadline(5, "work"), _thread)
    assert again is after


def test_an_already_passed_deadline_does_not_wait_for_the_work() -> None:
    deadline = budget.Deadline(0.0, "encoding the result")
    release, finished = threading.Event(), threading.Event()

    def slow() -> None:
        release.wait(10)
        finished.set()

    with pytest.raises(budget.OverBudget, match="encoding the result ran past"):
        budget.run_within(deadline, slow)
    assert not finished.is_set()  # the worker was freed while the work still ran
    release.set()
    assert finished.wait(5)
