"""A clean stop on SIGTERM: long work checks an event and ends after its next checkpoint.

>>> with stop_on_sigterm() as stop:
...     stop.is_set()
False
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

EXIT_STOPPED = 75  # EX_TEMPFAIL: stopped on request after a checkpoint; resume to continue


@contextlib.contextmanager
def stop_on_sigterm(signals: tuple[int, ...] = (signal.SIGTERM,)) -> Iterator[threading.Event]:
    """An event set when one of ``signals`` arrives; the previous handlers come back on exit.

    Only the main thread may install signal handlers; elsewhere the event is returned unarmed.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Interrupted(Exception):
    """Long work stopped on request (its ``stop`` event was set) right after writing a checkpoint."""
