"""Chat fixtures shared with tests/conversations."""

from __future__ import annotations

from tests.conversations.chat import (  # noqa: F401 - fixtures
    agent_cookie,
    chat_store,
)
from tests.store.conftest import make_customer, make_order, make_store  # noqa: F401 - fixtures
