"""One process-wide, first-come-first-served lock for heavy work, and thread counts set once.

Why: a classroom of thirty students shares one 2-core machine. If every session ran its model at
once, each would crawl and memory would spike; queueing them behind one lock keeps every run fast
and lets the UI say where each viewer stands in the queue. The lock is taken inside the body of a
cached function, never around the call, so a cache hit never waits behind someone else's job.

The queue has a limit: past it a caller gets `Busy` at once ("try again in a moment") instead of
waiting minutes, and a waiter gives up with `LockTimeout` after `timeout_s`.
"""
import itertools
import os
import threading
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path

_THREADS_SET = False


def available_cpus() -> int:
    """CPUs this process may really use: its CPU affinity, capped by a cgroup CPU quota if there is one.

    `os.cpu_count()` reports the host's CPUs, which a container limited to 2 CPUs can over-report.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    try:  # cgroup v2: "max 100000" (no quota) or "200000 100000" (2 CPUs)
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def set_threads(n: int | None = None) -> int:
    """Set torch's (and faiss's, if installed) thread count once per process; returns it."""
    global _THREADS_SET
    import torch

    n = n or int(os.environ.get("LLM_LAB_THREADS", available_cpus()))
    if not _THREADS_SET:
        torch.set_num_threads(n)
        try:
            import faiss

            faiss.omp_set_num_threads(n)
        except ImportError:
            pass
        _THREADS_SET = True
    return torch.get_num_threads()


class Busy(RuntimeError):
    """The queue is full: the caller should try again in a moment."""


class LockTimeout(TimeoutError):
    """Waited longer than the lock's timeout."""


class ComputeLock:
    """A first-come-first-served lock with a queue limit and a timeout; re-entrant per thread.

    >>> lock = ComputeLock(max_queue=2)
    >>> with lock.hold():
    ...     lock.waiting, lock.busy()
    (0, True)
    """

    def __init__(self, max_queue: int = 12, timeout_s: float = 120.0) -> None:
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self._cond = threading.Condition()
        self._queue: deque[int] = deque()  # tickets of the waiters, in arrival order
        self._tickets = itertools.count()
        self._holder: int | None = None  # thread ident of the holder
        self._depth = 0  # re-entrant holds by the holder
        self.last_wait_s = 0.0
        self.longest_wait_s = 0.0
        self.refused = 0  # callers turned away because the queue was full
        self._mine = threading.local()  # per thread: seconds waited and holds taken (see `thread_stats`)

    @property
    def waiting(self) -> int:
        """How many callers are queued (not counting the one holding the lock)."""
        return len(self._queue)

    def busy(self) -> bool:
        return self._holder is not None

    def thread_stats(self, reset: bool = False) -> tuple[float, int]:
        """(seconds waited, holds taken) by the calling thread since its last reset: a script run that only read
        caches shows (0.0, 0). Re-entrant holds and refused or timed-out calls are not counted as holds."""
        stats = (getattr(self._mine, "waited", 0.0), getattr(self._mine, "holds", 0))
        if reset:
            self._mine.waited, self._mine.holds = 0.0, 0
        return stats

    def _tally(self, waited: float, holds: int) -> None:
        self._mine.waited = getattr(self._mine, "waited", 0.0) + waited
        self._mine.holds = getattr(self._mine, "holds", 0) + holds

    @contextmanager
    def hold(self, timeout_s: float | None = None, queue_limit: bool = True):
        """Wait for our turn (first come, first served), run the body, let the next one in.

        Raises Busy when max_queue callers are already waiting (unless queue_limit is False: work that must
        happen, such as loading a model, queues whatever the length), LockTimeout after timeout_s.
        """
        me = threading.get_ident()
        with self._cond:
            if self._holder == me:  # a cached function calling another: already ours
                self._depth += 1
            else:
                ticket = next(self._tickets)
                start = time.perf_counter()
                if self._holder is not None or self._queue:
                    if queue_limit and len(self._queue) >= self.max_queue:
                        self.refused += 1
                        raise Busy(f"{len(self._queue)} runs are already queued")
                    self._queue.append(ticket)
                    deadline = start + (self.timeout_s if timeout_s is None else timeout_s)
                    while self._holder is not None or self._queue[0] != ticket:
                        remaining = deadline - time.perf_counter()
                        if remaining <= 0:
                            self._queue.remove(ticket)
                            self._cond.notify_all()
                            self._tally(time.perf_counter() - start, holds=0)
                            raise LockTimeout(f"waited {time.perf_counter() - start:.0f} s for the CPU")
                        self._cond.wait(remaining)
                    self._queue.popleft()
                self._holder, self._depth = me, 1
                self.last_wait_s = time.perf_counter() - start
                self.longest_wait_s = max(self.longest_wait_s, self.last_wait_s)
                self._tally(self.last_wait_s, holds=1)
        try:
            yield self
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._holder = None
                    self._cond.notify_all()


COMPUTE_LOCK = ComputeLock()
