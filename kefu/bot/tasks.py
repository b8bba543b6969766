"""Bot jobs: answering a customer's message in a live conversation."""

from __future__ import annotations
