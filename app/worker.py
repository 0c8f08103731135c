"""`python -m app.worker [jobs|webhooks]`: the Procfile's `worker` and `webhook` processes.

A supervisor forks long-lived SimpleWorker processes instead of RQ's fork per job
(about 20 ms, for algorithms that answer in microseconds) and keeps what that fork gave
(README, "Two modes").
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from contextlib import suppress

import redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.timeouts import JobTimeoutException

from app.jobs import tasks
from app.jobs.embedded import SHUTDOWN_WHILE_RUNNING
from app.observability.logs import configure_logging

log = logging.getLogger("app.worker")

TICK_SECONDS = 0.25
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

    def __call__(self) -> None:
        if self.acquired_locks:
            self.heartbeat()  # re-acquires a lock that expired during an outage
        else:
            self.acquire_locks()
        if self.acquired_locks:
            self.enqueue_scheduled_jobs()

    def release(self) -> None:
        """Another webhook process's scheduler takes over now, not when the lock expires."""
        if self.acquired_locks:
            self.release_locks()


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
        self.signalled: set[int] = set()
        self.stopping = threading.Event()
        self.next_start = 0.0

    def run(self) -> None:
        for signum in SIGNALS:  # before anything is forked
            signal.signal(signum, self._on_signal)
        while not self.stopping.is_set():
            self._collect_exited()
            self._watch_deadlines()
            self._fill()
            self._do_chore()
            self.stopping.wait(TICK_SECONDS)
        log.info("stopping: waiting for the worker processes", extra={"count": len(self.children)})
        self._stop_children()
        try:
            self.chore.release()
        except Exception:
            log.warning("chore not stopped cleanly", exc_info=True)

    def _do_chore(self) -> None:
        """Errors are logged, never fatal: the next round may well succeed."""
        if time.monotonic() < self.chore_due:
            return
        self.chore_due = time.monotonic() + self.chore.interval
        try:
            self.chore()
        except Exception:
            log.warning("%s failed; trying again in %s s", type(self.chore).__name__,
                        self.chore.interval, exc_info=True)

    def _on_signal(self, signum: int, frame: object) -> None:
        """Forward to every worker: the first SIGTERM is RQ's warm shutdown, a second one cold."""
        self.stopping.set()
        for pid in self.children:
            self._kill(pid, signum)
            self.signalled.add(pid)

    def _fill(self) -> None:
        while len(self.children) < self.size and time.monotonic() >= self.next_start:
            slot = tasks.JobSlot()
            # Blocked signals wait until the new worker is in self.children.
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
            try:
                pid = os.fork()
                if pid == 0:
                    self._become_worker(slot)
                self.children[pid] = slot, time.monotonic()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    def _become_worker(self, slot: tasks.JobSlot) -> None:
        """In the forked process, with fresh Redis connections: a SimpleWorker until it has
        done max_jobs jobs or is stopped. SIGTERM and SIGINT stay blocked until the lease
        thread has started, so they reach only the main thread, which holds them back while
        it runs a job."""
        code = 1
        try:
            _die_with_parent(self.pid)
            for signum in SIGNALS:  # still blocked: a SIGTERM from now on ends the process
                signal.signal(signum, signal.SIG_DFL)
            tasks.context.cache_clear()
            tasks.slot = slot
            ctx = tasks.context()
            if self.queue_name == tasks.JOBS_QUEUE:  # leases are for jobs, not webhook attempts
                threading.Thread(target=tasks.keep_alive, name="keep-alive", daemon=True).start()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
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

    def _collect_exited(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                self._exited(pid, status)

    def _exited(self, pid: int, status: int) -> None:
        slot, forked_at = self.children.pop(pid)
        lived = time.monotonic() - forked_at
        self.signalled.discard(pid)
        work = slot.read()
        code = os.waitstatus_to_exitcode(status)
        if code != 0 or work.job_id:
            log.warning("worker process ended", extra={"pid": pid, "exit_code": code,
                                                       "job_id": work.job_id})
        if code != 0 or work.job_id or lived < RESTART_DELAY_SECONDS:  # e.g. Redis unusable
            self.next_start = time.monotonic() + RESTART_DELAY_SECONDS
        tasks.settle_lost(self.queue_name, work, tasks.WORKER_LOST)

    def _watch_deadlines(self) -> None:
        for pid, (slot, _) in list(self.children.items()):
            work = slot.read()
            if work.job_id and time.time() > work.deadline + KILL_GRACE_SECONDS:
                log.error("task overran its time limit; killing its worker",
                          extra={"job_id": work.job_id, "pid": pid})
                self._kill_and_settle(pid, work, tasks.TIMED_OUT)

    def _stop_children(self) -> None:
        """A worker still on its job after the grace is killed and its job failed."""
        for pid in list(self.children):
            if pid not in self.signalled:
                self._kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self.children and time.monotonic() < deadline:
            self._collect_exited()
            time.sleep(STOP_POLL_SECONDS)
        for pid, (slot, _) in list(self.children.items()):
            work = slot.read()
            log.warning("worker process still busy after the stop grace; killing it",
                        extra={"pid": pid, "job_id": work.job_id})
            self._kill_and_settle(pid, work, SHUTDOWN_WHILE_RUNNING)

    def _kill_and_settle(self, pid: int, work: tasks.Work, error: str) -> None:
        self._kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        self.children.pop(pid)
        tasks.settle_lost(self.queue_name, work, error)

    @staticmethod
    def _kill(pid: int, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.kill(pid, signum)


class InProcessWorker(SimpleWorker):
    """RQ's SimpleWorker without RQ's per-job bookkeeping (our record, lease and sweeps do
    it): three round trips a job instead of about 24 (README, Design decisions)."""

    bookkeeping_interval = 1.0
    max_connection_wait_time = RESTART_DELAY_SECONDS  # back soon after Redis is
    heartbeat_sent_at = suspension_checked_at = float("-inf")

    def subscribe(self) -> None:
        """No pubsub thread for RQ's worker commands: joining it held an exit for a minute
        (rq/rq#1613), and the supervisor stops and replaces workers."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        """SIGTERM and SIGINT are held back during the task: RQ's stop request then ends
        the worker once the job is done."""
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            with self.connection.pipeline() as pipe:
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
                pipe.delete(job.key)
                pipe.execute()
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
        if pipeline is None and timeout is None:
            if time.monotonic() - self.heartbeat_sent_at < self.bookkeeping_interval:
                return
            self.heartbeat_sent_at = time.monotonic()
        super().heartbeat(timeout, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        if time.monotonic() - self.suspension_checked_at < self.bookkeeping_interval:
            return
        self.suspension_checked_at = time.monotonic()
        super().check_for_suspension(burst)


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
