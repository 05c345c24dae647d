"""Workers that never outlive their supervisor.

``--workers N`` runs uvicorn's supervisor with N spawned worker processes that all accept on one
socket. If the supervisor is killed (``kill -9``, OOM killer), nobody would stop the workers: they
would keep serving the port and a restart would fail with "Address already in use". So each worker
asks the kernel for SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``), and a watch thread
covers systems without it (and the window before the request took effect).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_SECONDS = 0.5
SUPERVISOR_ENVIRONMENT_VARIABLE = "RC_TRIGGERS_MOCK_SUPERVISOR"
"""The supervisor's pid, set before it spawns workers: a worker that starts after its supervisor
died (a slow start) sees another parent already and must not adopt it."""


def mark_supervisor() -> None:
    os.environ[SUPERVISOR_ENVIRONMENT_VARIABLE] = str(os.getpid())


def set_parent_death_signal(number: int) -> None:
    """Linux: the kernel sends ``number`` to this process when its parent dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, number, 0, 0, 0)


def exit_with_parent() -> None:
    parent = int(os.environ.get(SUPERVISOR_ENVIRONMENT_VARIABLE) or os.getppid())
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:  # the supervisor is gone already
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    sent = False
    while True:
        if os.getppid() != parent:
            if not sent:  # graceful first (uvicorn finishes what it is answering) ...
                os.kill(os.getpid(), signal.SIGTERM)
                sent = True
                time.sleep(5)
                continue
            os._exit(1)  # ... then for good
        time.sleep(WATCH_INTERVAL_SECONDS)
