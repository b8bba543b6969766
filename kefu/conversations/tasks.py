"""Conversation jobs and sweeps: queue hand-out, snooze wake-up, auto-away."""

from __future__ import annotations
