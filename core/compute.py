"""One process-wide lock for heavy work, and thread counts set once.

Why: a classroom of thirty students shares one 2-core machine. If every session ran its
model at once, each would crawl and memory would spike; queueing them behind one lock
keeps every run fast and lets the UI say how many are waiting.
"""
import os
import threading
import time
from contextlib import contextmanager

_THREADS_SET = False


def set_threads(n: int | None = None) -> int:
    """Set torch's (and faiss's, if installed) thread count once per process; returns it."""
    global _THREADS_SET
    import torch

    n = n or int(os.environ.get("LLM_LAB_THREADS", os.cpu_count() or 1))
    if not _THREADS_SET:
        torch.set_num_threads(n)
        try:
            import faiss

            faiss.omp_set_num_threads(n)
        except ImportError:
            pass
        _THREADS_SET = True
    return torch.get_num_threads()


class ComputeLock:
    """A lock that counts who is waiting for it.

    >>> lock = ComputeLock()
    >>> with lock.hold():
    ...     lock.waiting
    0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0
        self.last_wait_s = 0.0

    @property
    def waiting(self) -> int:
        """How many callers are queued (not counting the one holding the lock)."""
        return self._waiting

    def busy(self) -> bool:
        return self._lock.locked()

    @contextmanager
    def hold(self):
        with self._count:
            self._waiting += 1
        start = time.perf_counter()
        self._lock.acquire()
        with self._count:
            self._waiting -= 1
        self.last_wait_s = time.perf_counter() - start
        try:
            yield self
        finally:
            self._lock.release()


COMPUTE_LOCK = ComputeLock()
