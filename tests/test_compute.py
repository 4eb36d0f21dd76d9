"""core.compute: the fair lock with threads (order, queue limit, timeout, re-entry), the CPU count,
and the UI's promise that a cached result never waits behind someone else's job."""
import threading
import time

import pytest
from conftest import assert_ok, open_page

from core import compute
from core.compute import COMPUTE_LOCK, Busy, ComputeLock, LockTimeout


def _hold_until(lock: ComputeLock, release: threading.Event, started: threading.Event):
    with lock.hold():
        started.set()
        release.wait(90)


def _wait_for(cond, seconds: float = 10.0):
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


def test_waiters_are_served_first_come_first_served():
    lock, release, started = ComputeLock(max_queue=10), threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_until, args=(lock, release, started))
    holder.start()
    started.wait(5)
    order, threads = [], []
    for i in range(6):
        def work(i=i):
            with lock.hold():
                order.append(i)
        t = threading.Thread(target=work)
        t.start()
        threads.append(t)
        _wait_for(lambda i=i: lock.waiting == i + 1)  # each one queued before the next arrives
    release.set()
    for t in threads + [holder]:
        t.join(10)
    assert order == list(range(6))
    assert lock.waiting == 0 and not lock.busy()


def test_a_full_queue_refuses_at_once():
    lock, release, started = ComputeLock(max_queue=2), threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_until, args=(lock, release, started))
    holder.start()
    started.wait(5)
    def wait_once():
        with lock.hold():
            pass
    waiters = [threading.Thread(target=wait_once) for _ in range(2)]
    for w in waiters:
        w.start()
    _wait_for(lambda: lock.waiting == 2)
    with pytest.raises(Busy):
        with lock.hold():
            pass
    assert lock.refused == 1
    release.set()
    for t in waiters + [holder]:
        t.join(10)
    with lock.hold():  # usable again
        assert lock.waiting == 0


def test_work_that_must_happen_queues_past_the_limit():
    lock, release, started = ComputeLock(max_queue=0), threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_until, args=(lock, release, started))
    holder.start()
    started.wait(5)
    with pytest.raises(Busy):
        with lock.hold():
            pass
    done = []

    def must_run():
        with lock.hold(queue_limit=False):
            done.append(1)

    loader = threading.Thread(target=must_run)
    loader.start()
    _wait_for(lambda: lock.waiting == 1)
    assert not done  # it waits behind the holder instead of being refused
    release.set()
    loader.join(10)
    holder.join(10)
    assert done


def test_a_model_loads_only_while_no_other_thread_computes(monkeypatch):
    """from_pretrained changes process-wide torch state (default dtype, tensor creation), so core.models loads
    under the compute lock: a load waits for a running job instead of corrupting it."""
    from core import models

    lock = ComputeLock()
    monkeypatch.setattr(compute, "COMPUTE_LOCK", lock)
    release, started, loaded = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=_hold_until, args=(lock, release, started))
    holder.start()
    started.wait(5)
    loader = threading.Thread(target=lambda: loaded.append(models.load_causal_lm("tiny-lm")))
    loader.start()
    _wait_for(lambda: lock.waiting == 1, 120)  # the first import of transformers can take a while
    assert not loaded
    release.set()
    loader.join(60)
    holder.join(10)
    assert loaded and loaded[0][0].config.num_hidden_layers == 6


def test_a_waiter_gives_up_after_its_timeout_and_leaves_the_queue():
    lock, release, started = ComputeLock(), threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_until, args=(lock, release, started))
    holder.start()
    started.wait(5)
    with pytest.raises(LockTimeout):
        with lock.hold(timeout_s=0.05):
            pass
    assert lock.waiting == 0
    release.set()
    holder.join(10)


def test_the_holder_may_enter_again():
    lock = ComputeLock()
    with lock.hold():
        with lock.hold():
            assert lock.busy()
        assert lock.busy()
    assert not lock.busy()


def test_an_exception_in_the_body_releases_the_lock():
    lock = ComputeLock()
    with pytest.raises(ValueError):
        with lock.hold():
            raise ValueError("boom")
    assert not lock.busy()


def test_available_cpus_is_within_the_affinity():
    import os

    n = compute.available_cpus()
    assert 1 <= n <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert n <= len(os.sched_getaffinity(0))


def test_a_cached_page_does_not_wait_for_someone_elses_job():
    """First render computes (and caches); then a job holds the lock indefinitely elsewhere, and the same
    page renders again from the cache without waiting for it (it would hang until the timeout otherwise)."""
    at = open_page("app_pages/transformer.py")
    assert_ok(at, "Transformer")
    release, started = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_until, args=(COMPUTE_LOCK, release, started))
    holder.start()
    started.wait(5)
    try:
        again = open_page("app_pages/transformer.py", timeout=20)  # far less than the other job holds it
        assert_ok(again, "Transformer")
        assert COMPUTE_LOCK.busy()  # the other job still holds it: we never waited for it
    finally:
        release.set()
        holder.join(10)


def test_ui_resolves_transformers_names_once_at_import():
    # two script threads resolving a lazy transformers name at once can fail ("cannot import name 'LlamaConfig'");
    # importing ui resolves every name the app imports, so later imports only read attributes
    import re

    import transformers
    from conftest import ROOT

    import ui

    assert all(name in vars(transformers) for name in ui.TRANSFORMERS_NAMES)
    used = set()
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/**/*.py"), *ROOT.glob("app_pages/*.py")]:
        for names in re.findall(r"^\s*from transformers import \(?([\w, ]+)\)?", path.read_text(), re.MULTILINE):
            used |= {n.strip() for n in names.split(",") if n.strip()}
    assert used and used <= set(ui.TRANSFORMERS_NAMES), sorted(used - set(ui.TRANSFORMERS_NAMES))


def test_thread_stats_count_each_threads_own_waits_and_holds():
    lock, release, started = ComputeLock(), threading.Event(), threading.Event()
    lock.thread_stats(reset=True)
    with lock.hold():
        with lock.hold():  # re-entry is not a second hold
            pass
    waited, holds = lock.thread_stats()
    assert holds == 1 and 0 <= waited < 1
    holder = threading.Thread(target=_hold_until, args=(lock, release, started))
    holder.start()
    started.wait(5)
    threading.Timer(0.3, release.set).start()
    with lock.hold():  # waits for the holder to let go
        pass
    holder.join(10)
    waited, holds = lock.thread_stats(reset=True)
    assert holds == 2 and waited >= 0.25  # the holder's own hold is counted in its thread, not here
    assert lock.thread_stats() == (0.0, 0)
    seen = []
    other = threading.Thread(target=lambda: seen.append(lock.thread_stats()))
    other.start()
    other.join(5)
    assert seen == [(0.0, 0)]  # a thread that never took the lock
