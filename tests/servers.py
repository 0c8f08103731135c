"""Real processes for the tests: the service as the Procfile starts it.

Every wait here polls a condition with a deadline; nothing sleeps for a fixed time
and hopes.
"""
from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from stat import S_IXOTH
from typing import Any, Callable

import requests

ROOT = Path(__file__).resolve().parent.parent
# Log files and data directories of every process started here, removed by
# `remove_temp_files` when the test run ends (tests read logs after a process stops).
_TEMP_PATHS: list[str] = []


def remove_temp_files() -> None:
    while _TEMP_PATHS:
        path = _TEMP_PATHS.pop()
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.unlink(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05,
             message: str = "condition") -> Any:
    """Poll until `condition()` is truthy; return its value, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def procfile_command(process_type: str) -> list[str]:
    """The command of one Procfile line, as a platform would run it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            return shlex.split(command)
    raise KeyError(process_type)


def process_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def process_group(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, from /proc (Linux)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ")".
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def _group_of(user: str) -> int:
    return pwd.getpwnam(user).pw_gid


def _open_to(directory: str, user: str) -> None:
    """Let `user` write in `directory` (a test's own) and pass through the run's private
    temp directories above it, which stay unlistable to it."""
    path = Path(directory)
    os.chown(path, pwd.getpwnam(user).pw_uid, _group_of(user))
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & S_IXOTH:  # the system's temp directory, and all above it
            break
        os.chmod(parent, mode | S_IXOTH)


class ManagedProcess:
    """A child process with its stderr kept in a file for the test to read."""

    def __init__(self, command: list[str], env: dict[str, str], user: str | None = None) -> None:
        self.command = command
        self.env = env
        self.user = user  # run as this user (the tests must run as root to ask for one)
        self.log_file = tempfile.NamedTemporaryFile(prefix="fs-test-", suffix=".log", delete=False)
        self.log_file.close()  # the child writes to it through its own descriptor
        _TEMP_PATHS.append(self.log_file.name)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        # Starting twice would lose the first child, left running after the tests.
        assert not self.alive(), "already started"
        with open(self.log_file.name, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, user=self.user, group=self.user and _group_of(self.user),
                extra_groups=[] if self.user else None,
            )

    def start_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Start, then wait until `ready()`; fail at once, with its output, if it exits."""
        ManagedProcess.start(self)  # subclasses' own start() calls this one

        def up() -> bool:
            if not self.alive():
                raise AssertionError(f"{what} exited early:\n{self.output()[-3000:]}")
            return ready()
        wait_for(up, timeout, message=what)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL to the whole process group if it has not gone in time."""
        if self.process is None:
            return None
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        return self.process.returncode

    def output(self) -> str:
        return Path(self.log_file.name).read_text(errors="replace")

    def json_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.output().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines


class Service(ManagedProcess):
    """The web process exactly as the Procfile's `web:` line starts it, on a free port."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        extra = {"PORT": str(self.port), "HOST": "127.0.0.1", **(env or {})}
        super().__init__(procfile_command("web"), process_env(extra))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self, timeout: float = 30.0) -> "Service":
        self.start_until(self._answers, timeout, f"service on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            return requests.get(self.url("/healthz"), timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer(ManagedProcess):
    """A throwaway redis-server on a free loopback port, its data in a temporary dir.

    It keeps an append-only file, so a stopped server started again (`restarted()`,
    same port and dir) comes back with its data, as a real one would.
    """

    def __init__(self, port: int | None = None, directory: str | None = None,
                 appendfsync: str = "always") -> None:
        self.port = port or free_port()
        if directory is None:
            directory = tempfile.mkdtemp(prefix="fs-redis-")
            _TEMP_PATHS.append(directory)
        self.dir = directory
        self.appendfsync = appendfsync
        super().__init__(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "yes", "--appendfsync", appendfsync],
            process_env({}),
        )

    def restarted(self) -> "RedisServer":
        return RedisServer(self.port, self.dir, self.appendfsync).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> "RedisServer":
        self.start_until(self._answers, timeout, f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ScaleOut:
    """Scale-out mode as the Procfile describes it: redis-server, `web` (several gunicorn
    workers), `worker` processes for jobs and one `webhook` process."""

    def __init__(self, env: dict[str, str] | None = None, web_workers: int = 3,
                 job_workers: int = 2, redis_appendfsync: str = "always") -> None:
        self.redis = RedisServer(appendfsync=redis_appendfsync)
        self.env = {**(env or {}), "REDIS_URL": self.redis.url,
                    "WEB_CONCURRENCY": str(web_workers)}
        self.job_workers = job_workers
        self.workers: list[ManagedProcess] = []
        self.web: Service | None = None

    def start(self) -> "ScaleOut":
        self.redis.start()
        for _ in range(self.job_workers):
            self.start_worker("worker")
        self.start_worker("webhook")
        self.web = self.start_web()
        return self

    def start_worker(self, kind: str) -> ManagedProcess:
        worker = ManagedProcess(procfile_command(kind), process_env(self.env))
        worker.start()
        self.workers.append(worker)
        return worker

    def start_web(self) -> Service:
        return Service(self.env).start()

    @property
    def base_url(self) -> str:
        assert self.web is not None
        return self.web.base_url

    def stop(self) -> None:
        for process in [self.web, *self.workers, self.redis]:
            if process is not None:
                process.stop()

    def __enter__(self) -> "ScaleOut":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Nginx(ManagedProcess):
    """A real nginx in the foreground with a configuration the test gives, in a prefix
    directory of its own (logs, pid, temp files), removed when the run ends.

    `unprivileged`: run it as `nobody` when the tests run as root, as README says any
    user may run it.
    """

    def __init__(self, config: str, port: int, unprivileged: bool = False) -> None:
        self.port = port
        self.prefix = tempfile.mkdtemp(prefix="fs-nginx-")
        _TEMP_PATHS.append(self.prefix)
        self.config = os.path.join(self.prefix, "nginx.conf")
        Path(self.config).write_text(config)
        user = "nobody" if unprivileged and os.getuid() == 0 else None
        settings = "pid nginx.pid; daemon off;"  # README's command, in the foreground
        if user:
            _open_to(self.prefix, user)
        elif os.getuid() == 0:
            # Workers would run as nobody, who cannot enter the run's private temp directory.
            settings += " user root;"
        super().__init__(["nginx", "-p", self.prefix, "-e", "stderr", "-g", settings,
                          "-c", self.config],
                         process_env({}), user)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "Nginx":
        self.start_until(self._listening, 15, f"nginx on port {self.port}")
        return self

    def access_lines(self) -> list[dict]:
        """nginx's own access log (written as each request ends), one JSON object a line."""
        return [json.loads(line) for line in Path(self.prefix, "access.log").read_text().splitlines()]

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def __exit__(self, *exc: object) -> None:
        self.stop()
