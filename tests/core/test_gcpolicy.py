"""The collector policy: survivors of a full collection are frozen, everything is looked at
again now and then, so cycles among long-lived objects are still reclaimed."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from kefu.core import gcpolicy


@pytest.fixture
def fresh_policy(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(gcpolicy._state, "installed", False)
    before = list(gc.callbacks)
    yield
    gc.callbacks[:] = before
    gc.unfreeze()


def test_full_collections_freeze_their_survivors(fresh_policy: Any) -> None:
    gcpolicy.install()
    frozen = gc.get_freeze_count()
    survivors = [[n] for n in range(5_000)]  # long-lived containers made after startup
    gc.collect()
    assert gc.get_freeze_count() >= frozen + len(survivors)
    assert gc.get_count()[0] < 100  # a young collection does not walk the frozen objects


def test_a_complete_collection_still_reclaims_old_cycles(fresh_policy: Any) -> None:
    gcpolicy.install()

    class Node:
        other: Any = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    gc.collect()  # the pair survives and is frozen
    del a, b
    gc.collect()
    assert alive() is not None  # a frozen cycle waits for the next complete collection
    gcpolicy._state["last_full_scan"] -= gcpolicy.FULL_SCAN_EVERY_S  # ten minutes later
    gc.collect()  # this one unfreezes
    gc.collect()  # and this one sees the whole heap
    assert alive() is None
