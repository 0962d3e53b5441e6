"""The progress plan (task counts from the callback plugin) and the clean stop of a run's whole process tree."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from shepherd.cancel import Canceller, cancel_on_signals
from shepherd.plan import PlanFile
from shepherd.processes import alive, descendants
from shepherd.runner import run


def test_plan_file_gives_counts_by_play_and_none_while_unknown(tmp_path):
    plan = PlanFile(tmp_path / "plan.jsonl")
    assert plan("p1") is None
    plan.path.write_text('{"play_uuid": "p1", "tasks": 4}\nnot json\n{"play_uuid": "p2", "tasks": 1}\n')
    assert (plan("p1"), plan("p2"), plan("p3")) == (4, 1, None)


def test_callback_plugin_counts_what_will_send_task_start_events(tmp_path):
    """Through a real (local, debug-only) run: each play's planned total reaches the tracker by its first task."""
    (tmp_path / "hosts").write_text("localhost ansible_connection=local\n")
    (tmp_path / "site.yml").write_text(
        textwrap.dedent(
            """
            - name: First
              hosts: all
              gather_facts: false
              pre_tasks:
                - ansible.builtin.debug: msg=pre
              tasks:
                - block:
                    - ansible.builtin.debug: msg=a
                  rescue:
                    - ansible.builtin.debug: msg=only on failure
                  always:
                    - ansible.builtin.debug: msg=b
                - ansible.builtin.meta: flush_handlers
                - ansible.builtin.debug: msg=opt-in
                  tags: [never, debug]
              post_tasks:
                - ansible.builtin.debug: msg=post
            - name: Second
              hosts: all
              gather_facts: false
              tasks:
                - ansible.builtin.debug: msg=c
            """
        )
    )
    totals = {}

    def remember(event, tracker):
        if event["event"] == "playbook_on_task_start":
            totals[tracker.play.name] = (tracker.play.total, tracker.play.started)

    result = run(tmp_path / "site.yml", tmp_path / "hosts", on_event=remember, private_data_dir=tmp_path / "run")
    assert result.ok and result.hosts["localhost"].ok == 5
    assert totals == {"First": (5, 5), "Second": (1, 1)}  # pre, a, b (always), the explicit meta, post
    assert (result.artifact_dir / "job_events").is_dir()


def spawn_tree():
    """A parent that starts a detached worker (own session, like ansible-playbook's workers) and waits."""
    script = textwrap.dedent(
        """
        import os, sys, time
        child = os.fork()
        if child == 0:
            os.setsid()
            signal_proof = __import__("signal")
            signal_proof.signal(signal_proof.SIGTERM, signal_proof.SIG_IGN)
            time.sleep(60)
            os._exit(0)
        print(child, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    return parent, worker


def test_cancel_terminates_the_run_and_kills_detached_workers():
    parent, worker = spawn_tree()
    try:
        assert descendants(parent.pid) == [worker]
        event = threading.Event()
        canceller = Canceller(event, grace=5)
        canceller.watch(parent.pid)
        assert canceller() is False  # not canceled: nothing happens
        event.set()
        assert canceller() is False  # SIGTERM sent, waiting for the run to end
        parent.wait(timeout=5)
        assert canceller() is True  # the run ended: the worker (it ignores SIGTERM) is killed
        deadline = time.monotonic() + 5
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker)
    finally:
        for pid in (parent.pid, worker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        parent.wait()


def test_cancel_before_any_event_leaves_the_kill_to_ansible_runner():
    event = threading.Event()
    event.set()
    assert Canceller(event)() is True


def test_signals_set_the_cancel_event_and_handlers_come_back():
    before = signal.getsignal(signal.SIGINT)
    with cancel_on_signals() as cancel:
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 2
        while not cancel.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cancel.is_set()
    assert signal.getsignal(signal.SIGINT) is before
