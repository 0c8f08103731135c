"""gunicorn settings, read from the environment (the Procfile's `web:` line loads this).

Two modes:
- embedded default (no REDIS_URL): jobs live in this process's memory, so there must be
  exactly one worker process; concurrency comes from threads. A WEB_CONCURRENCY or -w
  asking for more is corrected to 1, and the correction is logged.
- scale-out (REDIS_URL set): jobs live in Redis, so WEB_CONCURRENCY workers are fine.

Metrics from several workers are summed through prometheus_client's multiprocess mode,
whose directory must be in the environment before any worker imports prometheus_client:
this file runs in the master first, so it is set here.
"""
import logging
import os
import shutil
import tempfile

# A SIGHUP makes the master read this file again, with the directory already in the
# environment: who made it is remembered there too, so the master that made it, and
# only that one, removes it on exit.
_METRICS_DIR_OWNER = "FS_METRICS_DIR_OWNER_PID"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="fs-metrics-")
    os.environ[_METRICS_DIR_OWNER] = str(os.getpid())
_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]

# Only now, with the metrics directory in the environment, may app code be imported.
from app.serving import server_errors  # noqa: E402
from app.web import body_deadline  # noqa: E402

server_errors.install()  # gunicorn's own parse errors answer JSON, not HTML


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


SCALE_OUT = bool(os.environ.get("REDIS_URL", "").strip())

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{_env_int('PORT', 8000)}"
worker_class = "gthread"
workers = _env_int("WEB_CONCURRENCY", 2) if SCALE_OUT else 1
threads = _env_int("GUNICORN_THREADS", 8)
# Heroku-style routers give a request 30 s; stop a stuck worker just before that.
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 25)
# Longer than deploy/nginx.conf's upstream keepalive_timeout (4 s): nginx lets an idle
# connection go first (README, Behind nginx).
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# Recycling a worker drops in-memory jobs, so it is off unless jobs live in Redis.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0) if SCALE_OUT else 0
max_requests_jitter = max_requests // 10
# Peers trusted for X-Forwarded-Proto; the app trusts the same ones for X-Forwarded-For
# (app/web/client_address.py, README: Behind nginx).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# gunicorn 27 opens a control socket under $HOME by default; platforms have no writable home.
control_socket_disable = True
pre_request = body_deadline.remember_request  # a 408 for a slow body says Connection: close

accesslog = None  # the app writes one JSON line per request itself, with its request id
logger_class = "app.serving.gunicorn_logger.ErrorLogOnly"  # and gunicorn skips building its own
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "app.observability.logs.JsonFormatter"}},
    # Buffered: a write() per request line costs ~15 % of /invoke's throughput (app/observability/logs.py).
    "handlers": {"stderr": {"class": "app.observability.logs.BufferedStderrHandler", "formatter": "json"}},
    "root": {"handlers": ["stderr"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}



def on_starting(server) -> None:
    """Fresh metric files for this run, and one worker in embedded mode whatever was asked."""
    shutil.rmtree(_METRICS_DIR, ignore_errors=True)
    os.makedirs(_METRICS_DIR, exist_ok=True)
    asked = max(server.num_workers, _env_int("WEB_CONCURRENCY", 1))
    if not SCALE_OUT and (asked != 1 or server.cfg.max_requests):
        server.log.warning(
            "embedded job store: running 1 worker process (asked for %s) with %s threads and no "
            "max_requests recycling; set REDIS_URL to run several workers",
            asked, server.cfg.threads,
        )
        server.num_workers = 1
        server.cfg.set("workers", 1)
        server.cfg.set("max_requests", 0)


# The worker's own stop comes before worker_exit (measured up to 3 s: gthread lets
# kept-alive connections linger 2 s and polls every second), and the process must be
# gone before the master's graceful timeout ends.
EXIT_MARGIN_SECONDS = 4


def worker_exit(server, worker) -> None:
    """SIGTERM or restart: give this worker's jobs their grace period (see app.shutdown).

    Jobs still running after it were marked failed; exiting now, rather than when the
    interpreter has joined their threads, keeps the stop within the graceful timeout.
    """
    from app.factory import shutdown

    if not shutdown(worker.wsgi, server.cfg.graceful_timeout - EXIT_MARGIN_SECONDS):
        server.log.warning("exiting with job threads still running (marked failed)")
        logging.shutdown()
        os._exit(0)


def child_exit(server, worker) -> None:
    """Let a dead worker's live gauges go while keeping its counters (prometheus_client docs)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if os.environ.get(_METRICS_DIR_OWNER) == str(os.getpid()):
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)
