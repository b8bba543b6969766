"""Garbage-collector policy for a long-running web process.

CPython's full (generation 2) collection walks every container object the process holds. A
web process with a thousand open chat sockets holds a few hundred thousand of them, and a full
collection then stops the event loop for 150–200 ms on a modest CPU, every second or two under
load: every message in flight waits (measured with benchmarks/chat_load.py, see
docs/benchmarks.md). Almost all of those objects are long-lived (sockets, their tasks and
buffers, the startup's tables and language data) and can never be cyclic garbage while in use.

So after each full collection, the survivors are frozen (`gc.freeze()`, moved to the permanent
generation): the next full collection walks only what was made since, which is short. Frozen
objects are still freed by reference counting; only cycles among them wait. To bound that, a
complete collection over everything runs at most every `FULL_SCAN_EVERY_S` — one long pause
every ten minutes instead of one every second.
"""

from __future__ import annotations

import gc
import time
from typing import Any

FULL_SCAN_EVERY_S = 600.0

_state = {"installed": False, "last_full_scan": 0.0}


def install() -> None:
    """Freeze what startup built and keep freezing survivors (once per process: tests start
    many apps in one)."""
    if _state["installed"]:
        return
    gc.collect()
    gc.freeze()
    _state["last_full_scan"] = time.monotonic()
    gc.callbacks.append(_after_collection)
    _state["installed"] = True


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase != "stop" or info.get("generation") != 2:
        return
    now = time.monotonic()
    # (Not gc.get_freeze_count(): it walks the whole frozen list, tens of ms at this size.)
    if now - _state["last_full_scan"] >= FULL_SCAN_EVERY_S:
        # Let the next full collection see everything once, cycles among old objects included.
        gc.unfreeze()
        _state["last_full_scan"] = now
        return
    gc.freeze()
