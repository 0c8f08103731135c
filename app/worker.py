"""`python -m app.worker [jobs|webhooks]`: the Procfile's `worker` and `webhook` processes,
each a supervisor of long-lived SimpleWorker processes, where RQ forks one per job (about
20 ms); README's "Two modes" says what of that fork is kept."""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from contextlib import suppress
from typing import Callable

import redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.timeouts import JobTimeoutException
from rq.utils import now

from app.jobs import tasks
from app.jobs.embedded import SHUTDOWN_WHILE_RUNNING
from app.observability.logs import configure_logging

log = logging.getLogger("app.worker")

TICK_SECONDS = 0.25
LEASE_RENEW_SECONDS = 1.0  # a tenth of the lease: Redis blips do not lose it
KILL_GRACE_SECONDS = 5.0
STOP_GRACE_SECONDS = 3.0
STOP_POLL_SECONDS = 0.02
RESTART_DELAY_SECONDS = 1.0
SIGNALS = {signal.SIGTERM, signal.SIGINT}
PR_SET_PDEATHSIG = 1


class ScheduledRetries(RQScheduler):
    """The `webhook` supervisor's chore: RQ's scheduler driven by our ticks, every
    `interval` seconds, as RQ's own thread would (that thread dies on a Redis
    ConnectionError and is started again only every 10 minutes)."""

    release = RQScheduler.release_locks  # another webhook process's scheduler takes over now

    def __call__(self) -> None:
        if self.acquire_locks():  # or refreshes them; one that expired in an outage is taken again
            self.enqueue_scheduled_jobs()


class Supervisor:
    """Keeps `size` worker processes running, stops them on a signal, does its chore."""

    def __init__(self, queue_name: str, size: int, max_jobs: int,
                 chore: tasks.LostJobs | ScheduledRetries) -> None:
        self.queue_name = queue_name
        self.size = size
        self.max_jobs = max_jobs
        self.chore = chore
        self.chore_due = 0.0
        self.pid = os.getpid()
        self.children: dict[int, tuple[tasks.JobSlot, float]] = {}  # and when it was forked
        self.stopping = threading.Event()
        self.next_start = 0.0
        self.lease_renewal_due = 0.0

    def run(self) -> None:
        for signum in SIGNALS:  # before anything is forked
            signal.signal(signum, self._on_signal)
        while not self.stopping.is_set():
            self._reap()
            self._watch()
            self._fill()
            if time.monotonic() >= self.chore_due:
                self.chore_due = time.monotonic() + self.chore.interval
                _logged(self.chore)
            self.stopping.wait(TICK_SECONDS)
        log.info("stopping: waiting for the worker processes", extra={"count": len(self.children)})
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(STOP_POLL_SECONDS)
        for pid in list(self.children):  # still on its task after the grace
            self._kill(pid, SHUTDOWN_WHILE_RUNNING)
        _logged(self.chore.release)

    def _on_signal(self, signum: int, frame: object) -> None:
        """Forward to every worker: the first SIGTERM is RQ's warm shutdown, a second one cold."""
        self.stopping.set()
        for pid in self.children:
            with suppress(ProcessLookupError):  # reaped, not yet settled
                os.kill(pid, signum)

    def _fill(self) -> None:
        """Signals wait while workers are forked, so the handler finds each in self.children."""
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            while (len(self.children) < self.size and time.monotonic() >= self.next_start
                   and not self.stopping.is_set()):
                slot = tasks.JobSlot()
                pid = os.fork()
                if pid == 0:
                    self._become_worker(slot)
                self.children[pid] = slot, time.monotonic()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    def _become_worker(self, slot: tasks.JobSlot) -> None:
        """In the forked process, with fresh Redis connections: a SimpleWorker until it has
        done max_jobs jobs or is stopped."""
        code = 1
        try:
            _die_with_parent(self.pid)
            for signum in SIGNALS:  # blocked since the fork: a SIGTERM from now on ends it
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            tasks.context.cache_clear()
            tasks.slot = slot
            ctx = tasks.context()
            worker = InProcessWorker([Queue(self.queue_name, connection=ctx.client)],
                                     connection=ctx.client)
            worker.work(max_jobs=self.max_jobs, logging_level=ctx.settings.log_level)
            code = 0
        except redis.ConnectionError as exc:  # started again a second later, as Redis allows
            log.warning("worker process stopped: Redis unreachable", extra={"error": str(exc)})
        except BaseException:
            log.exception("worker process failed")
        finally:
            logging.shutdown()
            os._exit(code)

    def _reap(self) -> None:
        with suppress(ChildProcessError):  # no child left
            while (ended := os.waitpid(-1, os.WNOHANG))[0]:
                self._settle(*ended, tasks.WORKER_LOST)

    def _watch(self) -> None:
        """Kills a worker past its task's deadline; renews the lease of a job in progress
        (a lapsed lease tells the other `worker` processes this machine is gone)."""
        renew = self.queue_name == tasks.JOBS_QUEUE and time.monotonic() >= self.lease_renewal_due
        if renew:
            self.lease_renewal_due = time.monotonic() + LEASE_RENEW_SECONDS
        for pid, (slot, _) in list(self.children.items()):
            work = slot.read()
            if work.job_id and time.time() > work.deadline + KILL_GRACE_SECONDS:
                self._kill(pid, tasks.TIMED_OUT)
            elif work.job_id and renew:
                _logged(tasks.context().store.renew_lease, work.job_id)

    def _kill(self, pid: int, error: str) -> None:
        log.error("killing a worker process: %s", error, extra={"pid": pid})
        os.kill(pid, signal.SIGKILL)
        self._settle(*os.waitpid(pid, 0), error)

    def _settle(self, pid: int, status: int, error: str) -> None:
        """An ended worker's task fails with `error`; the next worker waits if it failed."""
        slot, forked_at = self.children.pop(pid)
        work, code = slot.read(), os.waitstatus_to_exitcode(status)
        if code != 0 or work.job_id:
            log.warning("worker process ended", extra={"pid": pid, "exit_code": code,
                                                       "job_id": work.job_id})
        if code != 0 or work.job_id or time.monotonic() - forked_at < RESTART_DELAY_SECONDS:
            self.next_start = time.monotonic() + RESTART_DELAY_SECONDS
        if work.job_id:  # a job left so by an error is failed later by its lease
            _logged(tasks.settle_lost, self.queue_name, work, error)


class InProcessWorker(SimpleWorker):
    """RQ's SimpleWorker without RQ's per-job bookkeeping, which our record, lease and
    sweeps do (README, Design decisions)."""

    bookkeeping_interval = 1.0
    max_connection_wait_time = RESTART_DELAY_SECONDS  # back soon after Redis is
    suspension_checked_at = float("-inf")

    def subscribe(self) -> None:
        """No pubsub thread for RQ's worker commands: joining it held an exit for a minute
        (rq/rq#1613), and the supervisor stops and replaces workers."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        """SIGTERM and SIGINT are held back during the task: RQ's stop request then ends
        the worker once the job is done."""
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            with self.connection.pipeline() as pipe:
                pipe.lrem(queue.intermediate_queue_key, 1, job.id).delete(job.key).execute()
            with self.death_penalty_class(job.timeout or queue.DEFAULT_TIMEOUT,
                                          JobTimeoutException, job_id=job.id):
                job.func(*job.args, **job.kwargs)
        except Exception:  # our tasks record their own failures: this is a bug in one
            log.exception("task failed", extra={"rq_job": job.id, "task": job.func_name})
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    def set_state(self, state: str, pipeline=None) -> None:
        if pipeline is not None or state != self.get_state():  # RQ says "idle" after every job
            super().set_state(state, pipeline)

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        since = (now() - self.last_heartbeat).total_seconds()  # RQ's record of the last one
        if timeout or pipeline is not None or since >= self.bookkeeping_interval:
            super().heartbeat(timeout, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        if time.monotonic() - self.suspension_checked_at < self.bookkeeping_interval:
            return
        self.suspension_checked_at = time.monotonic()
        super().check_for_suspension(burst)


def _logged(task: Callable[..., object], *args: object) -> None:
    """Errors (Redis down, mostly) are logged, never fatal: the next round may well succeed."""
    try:
        task(*args)
    except Exception:
        name = getattr(task, "__qualname__", type(task).__name__)
        log.warning("%s%r failed", name, args, exc_info=True)


def _die_with_parent(parent: int) -> None:
    """SIGKILL, not SIGTERM, when the supervisor dies: nothing would bound a warm stop.
    The job is then failed by its lease, as on a machine that went away."""
    with suppress(OSError, AttributeError):  # not Linux: SIGTERM is still forwarded
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(0)


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
        size, chore = ctx.settings.webhook_workers, ScheduledRetries([queue_name], ctx.client)
    else:
        size, chore = 1, tasks.LostJobs(ctx.settings.worker_sweep_seconds)
    Supervisor(queue_name, size, ctx.settings.worker_max_jobs, chore).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
