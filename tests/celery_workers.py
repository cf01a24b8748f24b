"""Real Celery workers as separate processes, for the reliability tests.

Each worker is `celery -A fluenzr worker --pool=solo` (`app.worker_main`, the same command):
one process, so `kill -9` of its pid is the whole worker, dead without a shutdown, on the test
database and the test Redis. It logs to a file that the test reads to know when the worker is
ready and what each task returned (the project keeps no result backend).

Starting one worker costs seconds of imports (Django, DRF, Celery) on a slow machine, and the
tests start a dozen. So a fork server imports everything once, without opening any connection,
and forks each worker on request, as Celery's own prefork pool forks its children: every
worker is still its own process, with its own database and broker connections.

Test-only additions, loaded into every worker with this module:

- `FLUENZR_TEST_PAUSE_BEFORE=<task name>` in a worker's environment: it stops for good just
  before running that task (after Celery took the message off the queue and acknowledged it,
  sends not being `acks_late`), logs `FLUENZR-TEST paused before <name>[<id>]`, and waits to
  be killed;
- `FLUENZR_TEST_PAUSE_AT=<module.function>`: the same, when the engine calls that function
  (looked up in its module at call time, e.g. `campaigns.engine.sender._record_sent`: the
  provider has taken the message, `sent` is not recorded yet); it logs
  `FLUENZR-TEST paused at <module.function>`;
- the task `tests.tick_at(now)`: the beat tick (`campaigns.scheduler_tick`) at a given
  instant, enqueueing through `campaigns.tasks.enqueue_send` as the real tick does, so that a
  test can walk the clock by the 20 s spacing instead of waiting for it.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from celery import shared_task
from celery.signals import task_prerun

ROOT = Path(__file__).resolve().parent.parent
PAUSE_BEFORE = "FLUENZR_TEST_PAUSE_BEFORE"
PAUSE_AT = "FLUENZR_TEST_PAUSE_AT"

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------- inside the workers


@task_prerun.connect
def _pause_before(sender=None, task_id=None, task=None, **kwargs) -> None:
    name = os.environ.get(PAUSE_BEFORE)
    if not name or task is None or task.name != name:
        return
    _stop_for_good(f"before {task.name}[{task_id}]")


def _stop_for_good(what: str) -> NoReturn:
    logger.warning("FLUENZR-TEST paused %s", what)
    while True:  # until the test kills the process
        time.sleep(60)


def _pause_at(path: str) -> None:
    module_name, _dot, name = path.rpartition(".")
    module = importlib.import_module(module_name)
    getattr(module, name)  # it must exist: a typo would otherwise pause nothing

    def paused(*args: Any, **kwargs: Any) -> NoReturn:
        _stop_for_good(f"at {path}")

    setattr(module, name, paused)


@shared_task(name="tests.tick_at")
def tick_at(now: str) -> int:
    from campaigns import tasks
    from campaigns.engine import scheduler

    return scheduler.scheduler_tick(enqueue=tasks.enqueue_send, now=datetime.fromisoformat(now))


def serve() -> None:
    """The fork server: reads one JSON request a line on stdin ({"argv", "env", "log"}),
    forks a worker for it and answers its pid; at the end of stdin, kills what is left."""
    import django

    django.setup()
    from fluenzr.celery import app

    app.loader.import_default_modules()  # every task module, imported once for all workers
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # dead workers are reaped by the system
    print("ready", flush=True)
    children = []
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _worker(app, request)
        children.append(pid)
        print(pid, flush=True)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _worker(app, request: dict[str, Any]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.environ.update(request["env"])
        if os.environ.get(PAUSE_AT):
            _pause_at(os.environ[PAUSE_AT])
        app.worker_main(request["argv"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


# ----------------------------------------------------------------------- in the test process


def database_url(settings_dict: dict[str, Any]) -> str:
    """The URL of the database the test runs on (the test database, not the configured one)."""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    return (
        f"postgres://{settings_dict['USER']}{password}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT']}/{settings_dict['NAME']}"
    )


class ForkServer:
    """`serve()` in its own process, with the environment every worker shares."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from tests.celery_workers import serve; serve()"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=output,
                text=True,
            )
        self._expect("ready")

    def _expect(self, what: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"The worker fork server died:\n{self.log.read_text()}")
        if what and line != what:
            raise RuntimeError(f"The worker fork server said {line!r}, not {what!r}.")
        return line

    def fork(self, *, argv: list[str], env: dict[str, str], log: Path) -> int:
        assert self.process.stdin is not None
        request = {"argv": argv, "env": env, "log": str(log)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return int(self._expect(""))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


_DONE = r"Task {name}\[{id}\] succeeded in [0-9.e-]+s: (?P<value>.*)$"
_FAILED = r"Task {name}\[{id}\] (raised unexpected|retry)"


@dataclass
class Worker:
    name: str
    queues: str
    pid: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match:
        """The first match in the log; fails (with the log) when the worker is gone or the
        time is up."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            text = self.output()
            found = regex.search(text)
            if found:
                return found
            if not _alive(self.pid):
                raise AssertionError(f"Worker {self.name} is gone:\n{text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"Worker {self.name}: no {pattern!r} in {timeout} s:\n{text}")
            time.sleep(0.02)

    def wait_ready(self, timeout: float = 60) -> Worker:
        self.wait_for(rf"{re.escape(self.name)}@\S+ ready\.", timeout)
        return self

    def result(self, task_name: str, task_id: str, timeout: float = 30) -> Any:
        """What the task returned, read from the worker's log ("Task … succeeded in …: value");
        a task that raised fails the test."""
        done = _DONE.format(name=re.escape(task_name), id=re.escape(task_id))
        failed = _FAILED.format(name=re.escape(task_name), id=re.escape(task_id))
        found = self.wait_for(f"(?:{done})|(?:{failed})", timeout)
        if found.group("value") is None:
            raise AssertionError(f"{task_name}[{task_id}] failed:\n{self.output()}")
        return ast.literal_eval(found.group("value"))

    def results(self, task_name: str) -> list[Any]:
        """Everything this worker returned for `task_name` so far, in order."""
        done = re.compile(_DONE.format(name=re.escape(task_name), id=r"[^\]]+"), re.MULTILINE)
        return [ast.literal_eval(m.group("value")) for m in done.finditer(self.output())]

    def signal(self, number: int) -> None:
        os.kill(self.pid, number)

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while _alive(self.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def kill(self) -> None:
        """`kill -9`: no shutdown, no cleanup, no acknowledgement."""
        self.signal(signal.SIGKILL)
        assert self._wait_gone(10), f"worker {self.name} survived SIGKILL"

    def stop(self) -> None:
        if not _alive(self.pid):
            return
        self.signal(signal.SIGCONT)  # in case a test left it stopped
        self.signal(signal.SIGTERM)  # warm shutdown
        if not self._wait_gone(15):
            self.kill()


@dataclass
class Workers:
    """Starts workers (forked by `server`) and stops every one of them at the end of a test."""

    server: ForkServer
    log_dir: Path
    started: list[Worker] = field(default_factory=list)

    def start(
        self, name: str, queues: str, *, pause_before: str = "", pause_at: str = ""
    ) -> Worker:
        argv = [
            "worker", "--pool=solo", f"--queues={queues}", f"--hostname={name}@%h",
            "--loglevel=INFO",
            # Alone on this Redis: no need to wait for other nodes' news at start.
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
        log = self.log_dir / f"{name}.log"
        env = {PAUSE_BEFORE: pause_before, PAUSE_AT: pause_at}
        pid = self.server.fork(argv=argv, env=env, log=log)
        worker = Worker(name=name, queues=queues, pid=pid, log=log)
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()

    def logs(self) -> str:
        return "\n".join(f"===== {w.name} ({w.queues})\n{w.output()[-6000:]}" for w in self.started)
