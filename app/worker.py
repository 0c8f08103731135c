"""`python -m app.worker [QUEUE]`: an RQ worker for scale-out mode.

The Procfile runs two kinds: `worker` takes jobs, one at a time; `webhook` delivers
webhooks with a pool of WEBHOOK_WORKERS processes, so a slow receiver holds neither
a job worker nor the other deliveries. Both run RQ's scheduler (retries wait in
it), and job workers also reap jobs whose worker died mid-run.
"""
from __future__ import annotations

import logging
import sys
import threading

from rq import Queue, Worker
from rq.worker_pool import WorkerPool

from app.jobs import tasks
from app.logs import configure_logging

log = logging.getLogger("app.worker")
REAP_INTERVAL_SECONDS = 2.0


def reap_forever(stop: threading.Event) -> None:
    while not stop.wait(REAP_INTERVAL_SECONDS):
        try:
            reaped = tasks.reap_lost_jobs()
        except Exception:
            log.warning("reaping lost jobs failed", exc_info=True)
            continue
        if reaped:
            log.warning("failed jobs whose worker was lost", extra={"count": reaped})


def main(argv: list[str]) -> int:
    queue_name = argv[0] if argv else tasks.JOBS_QUEUE
    if queue_name not in (tasks.JOBS_QUEUE, tasks.WEBHOOKS_QUEUE):
        print(f"usage: python -m app.worker [{tasks.JOBS_QUEUE}|{tasks.WEBHOOKS_QUEUE}]",
              file=sys.stderr)
        return 2
    ctx = tasks.context()
    if not ctx.settings.redis_url:
        print("REDIS_URL is not set: workers exist only in scale-out mode", file=sys.stderr)
        return 2
    configure_logging(ctx.settings.log_level)
    if queue_name == tasks.WEBHOOKS_QUEUE:
        pool = WorkerPool([queue_name], connection=ctx.client,
                          num_workers=ctx.settings.webhook_workers)
        pool.start(logging_level=ctx.settings.log_level)
        return 0
    stop = threading.Event()
    threading.Thread(target=reap_forever, args=(stop,), name="reaper", daemon=True).start()
    worker = Worker([Queue(queue_name, connection=ctx.client)], connection=ctx.client)
    try:
        worker.work(with_scheduler=True, logging_level=ctx.settings.log_level)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
