"""After-sales case tables (售后单): cases, their lines and their event log."""

from __future__ import annotations
