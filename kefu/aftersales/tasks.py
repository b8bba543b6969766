"""After-sales jobs: timeouts (return not shipped in time, shop not answering)."""

from __future__ import annotations
