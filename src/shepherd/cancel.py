"""Turning Ctrl-C (SIGINT) and SIGTERM into a cancel request the run can act on cleanly."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from shepherd.processes import alive, descendants, kill_all


@contextmanager
def cancel_on_signals(cancel: threading.Event | None = None) -> Iterator[threading.Event]:
    """Within the block, SIGINT and SIGTERM set the returned event instead of raising KeyboardInterrupt.

    `run(..., cancel=event)` then stops ansible-playbook and its children (ansible-runner kills their
    process group) and returns a result with status "canceled". The previous handlers come back afterwards.
    Only usable from the main thread, as Python's signal handlers are.
    """
    event = cancel or threading.Event()

    def request_cancel(signum: int, frame: FrameType | None) -> None:
        event.set()

    previous = {sig: signal.signal(sig, request_cancel) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Canceller:
    """ansible-runner's cancel callback for one run: stops ansible-playbook cleanly once `event` is set or the
    run has lasted `timeout` seconds (then `timed_out` is True).

    ansible-playbook's pid comes from the events (`watch`). On cancel it gets SIGTERM: it passes the signal on
    to its workers, which end their process groups (module processes, docker exec) and exit, and then it exits.
    Whatever is still alive after `grace` seconds is killed, and `reap` kills any descendant left once the run is
    over. Before the first event there are no workers yet; ansible-runner's own kill then suffices. (ansible-runner's
    own job_timeout is not used: it kills only ansible-playbook's process group and would orphan the workers.)
    """

    def __init__(self, event: threading.Event, grace: float = 10.0, timeout: float | None = None) -> None:
        self.event = event
        self.grace = grace
        self.deadline = time.monotonic() + timeout if timeout else None
        self.timed_out = False
        self.pid: int | None = None
        self.tree: list[int] = []
        self.signalled_at: float | None = None

    def watch(self, pid: object) -> None:
        """Remember ansible-playbook's pid from an event's `pid`."""
        if self.pid is None and isinstance(pid, int):
            self.pid = pid

    @property
    def stopping(self) -> bool:
        """Whether the run is being stopped (canceled, or out of time)."""
        if not self.timed_out and self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
        return self.event.is_set() or self.timed_out

    def __call__(self) -> bool:
        """True once ansible-runner should kill what is left of the run (its process group)."""
        if not self.stopping:
            return False
        if self.pid is None:
            return True
        if self.signalled_at is None:
            self.tree = descendants(self.pid)
            self.signalled_at = time.monotonic()
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                return True
            return False
        if alive(self.pid) and time.monotonic() - self.signalled_at < self.grace:
            return False
        self.reap()
        return True

    def reap(self) -> None:
        """Kill every process of the run's tree that is still alive (nothing when the run was not stopped)."""
        if self.signalled_at is not None and self.pid is not None:
            kill_all(self.tree + descendants(self.pid))
