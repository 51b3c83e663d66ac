"""The queues: desktop mode's SQLite storage wakes its consumers when work arrives."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pixtools.queues import WakingSqliteStorage


def dequeue_in_thread(storage: WakingSqliteStorage) -> tuple[threading.Thread, list[Any]]:
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(storage.dequeue()), daemon=True)
    thread.start()
    return thread, got


def test_an_enqueue_wakes_a_waiting_consumer_in_the_same_process(tmp_path: Path):
    storage = WakingSqliteStorage("standard", filename=str(tmp_path / "queue.db"))
    storage.poll_seconds = 60  # without the wake-up, the waiter would sleep a minute
    thread, got = dequeue_in_thread(storage)
    thread.join(0.3)  # let it reach its wait (if it has not, it finds the task at once)
    assert thread.is_alive() and got == []
    storage.enqueue(b"task 1")
    thread.join(20)
    assert not thread.is_alive(), "the waiting consumer was not woken"
    assert got == [b"task 1"]


def test_an_empty_queue_answers_nothing_after_one_poll(tmp_path: Path):
    storage = WakingSqliteStorage("standard", filename=str(tmp_path / "queue.db"))
    storage.poll_seconds = 0.05
    assert storage.blocking is True
    assert storage.dequeue() is None


def test_a_task_from_another_process_is_found_by_the_next_poll(tmp_path: Path):
    waiter = WakingSqliteStorage("standard", filename=str(tmp_path / "queue.db"))
    waiter.poll_seconds = 0.2
    other_process = WakingSqliteStorage("standard", filename=str(tmp_path / "queue.db"))
    other_queue = WakingSqliteStorage("ml", filename=str(tmp_path / "queue.db"))
    other_queue.enqueue(b"for ml")
    assert waiter.dequeue() is None  # a task on the other queue is not this queue's
    thread, got = dequeue_in_thread(waiter)
    other_process.enqueue(b"from a command")
    thread.join(20)
    assert got == [b"from a command"]
    assert other_queue.dequeue() == b"for ml"


def test_desktop_queues_use_it_and_server_queues_do_not(app, server_app):
    from pixtools.queues import get_queues

    for queue in (get_queues(app).standard, get_queues(app).ml):
        assert isinstance(queue.storage, WakingSqliteStorage)
    assert not isinstance(get_queues(server_app).standard.storage, WakingSqliteStorage)
