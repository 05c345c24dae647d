"""Large request bodies are answered in a forked child process, so that the event loop never waits.

Why a process and not a thread: parsing a hostile body (20 MB nested ten million deep) builds
millions of Python objects. In a thread that holds the interpreter lock in long stretches nobody
can interrupt: a young-generation collection over those objects took up to 0.9 s and freeing the
structure at the end 0.5-0.8 s (measured on this machine), and every other request waited that long.
A forked child has its own interpreter lock and its own memory; it exits with ``os._exit``, so its
objects are never collected or freed one by one, and the kernel returns the memory at once.

The child sees the parent's memory as it was at the fork (copy-on-write): the in-memory store, the
settings, the predictor. It sends back a pickled result through a pipe. It runs with an address
space limit (``RLIMIT_AS``: the parent's size plus ``budget_bytes``) and a deadline, and only one
child runs at a time, so a burst of hostile bodies costs at most one budget of memory and queues
(on an ``asyncio`` semaphore, holding no thread) instead of multiplying.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import resource
import select
import signal
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mock_server.lifeline import PR_SET_PDEATHSIG, set_parent_death_signal

T = TypeVar("T")

_EXIT_NO_MEMORY = 3


class OffloadFailed(Exception):
    """The child could not answer: out of its memory budget, past its deadline, or killed."""

    def __init__(self, reason: str, *, memory: bool = False) -> None:
        super().__init__(reason)
        self.memory = memory


class ChildError(Exception):
    """The work raised in the child; the message is ``type: text`` of the original exception."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(f"{kind}: {text}")
        self.kind = kind
        self.text = text


def _vm_size() -> int | None:
    """This process's address space in bytes; ``None`` where /proc is missing (no limit then)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:
        return None


class Offloader:
    def __init__(self, *, budget_bytes: int, timeout_seconds: float) -> None:
        self.budget_bytes = budget_bytes
        self.timeout_seconds = timeout_seconds
        self._semaphore: asyncio.Semaphore | None = None
        # The fork happens in this thread: the child then has no other thread's half-held lock of
        # this module, and the event loop's thread only awaits.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mock-fork")

    async def run(self, work: Callable[[], T]) -> T:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(1)
        async with self._semaphore:
            outcome = await asyncio.get_running_loop().run_in_executor(self._thread, self._fork, work)
        status, value = outcome
        if status == "error":
            kind, text = value
            raise ChildError(kind, text)
        result: T = value
        return result

    def _fork(self, work: Callable[[], T]) -> tuple[str, Any]:
        read_end, write_end = os.pipe()
        size = _vm_size()
        limit = resource.RLIM_INFINITY if size is None else size + self.budget_bytes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork in a threaded process
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; coverage cannot follow os._exit
            os.close(read_end)
            _child(work, write_end, limit)
        os.close(write_end)
        try:
            data = self._read(read_end, pid)
        finally:
            os.close(read_end)
            _, status = os.waitpid(pid, 0)
        if not data:
            code = os.waitstatus_to_exitcode(status)
            if code in (_EXIT_NO_MEMORY, -signal.SIGKILL):
                raise OffloadFailed("out of its memory budget", memory=True)
            raise OffloadFailed(f"the child process ended with status {code}")
        loaded: tuple[str, Any] = pickle.loads(data)
        return loaded

    def _read(self, fd: int, pid: int) -> bytes:
        chunks: list[bytes] = []
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            if not ready:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                raise OffloadFailed(f"no answer within {self.timeout_seconds:g} s")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _child(work: Callable[[], Any], fd: int, limit: int) -> None:  # pragma: no cover - see _fork
    code = 0
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)  # the server's handlers belong to the parent
        set_parent_death_signal(signal.SIGKILL)
        gc.disable()  # nothing is freed before os._exit anyway
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            result: tuple[str, Any] = ("ok", work())
        except MemoryError:
            code = _EXIT_NO_MEMORY
            return
        except Exception as error:
            result = ("error", (type(error).__name__, str(error)))
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except MemoryError:
        code = _EXIT_NO_MEMORY
    except BaseException:
        code = 1
    finally:
        os._exit(code)


__all__ = ["PR_SET_PDEATHSIG", "ChildError", "OffloadFailed", "Offloader"]
