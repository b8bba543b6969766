"""The live bot's tables: per-conversation state and the log of its turns."""

from __future__ import annotations
