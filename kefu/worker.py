"""`kefu worker`: runs background jobs and periodic sweeps from the Redis queue.

Importing the domains' task modules registers their jobs and schedules; add each new
`kefu/<domain>/tasks.py` to TASK_MODULES.
"""

from __future__ import annotations

import asyncio
import importlib

from kefu.core import jobs

TASK_MODULES: tuple[str, ...] = (
    "kefu.core.mail",
    "kefu.tickets.tasks",
    "kefu.orderservice.tasks",
    "kefu.conversations.tasks",
    "kefu.aftersales.tasks",
    "kefu.bot.tasks",
)


def load_task_modules() -> None:
    for name in TASK_MODULES:
        importlib.import_module(name)


def run_worker(redis_url: str, *, burst: bool = False) -> None:
    from arq.worker import Worker

    load_task_modules()
    worker = Worker(**jobs.worker_settings(redis_url, burst=burst))
    if burst:
        asyncio.run(worker.async_run())
    else:
        worker.run()
