"""Warm parents for workers: one process per (stack, framework, environment) imports the framework once and
forks a worker for each request, so a new worker costs a fork (about 0.1 s) instead of an interpreter and
TensorFlow's or torch's import (2-5 s, more under load).

A run has one zygote per key, shared by its lanes (which are forked processes): the zygote listens on an
abstract Unix socket whose name carries the run's token, answers only processes of the same user, and exits
when the run's lifeline pipe closes (the run ended or died), so nothing outlives a killed run. A forked worker
is the worker a fresh process would be: the same interpreter, environment, working folder and imports done
before any op ran (no thread pool started, no converter imported), in a session of its own; its exit status
(a converter's segfault) comes back from the zygote, which reaps it.

The server half runs in a stack's Python (`python -m harness.execution.zygote`); `Zygotes` is the run's half.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import select
import socket
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

# What a worker of each framework imports before its first task (harness.execution.worker.keep_to_thread_count);
# converters are never imported here, so a run worker forked from a zygote holds none of a converter's
# process-wide state. Nor is onnxruntime: importing it writes a database under ~/.cache/Microsoft, and a
# worker that only checks a file it then refuses must write nothing outside its folders (test_fuzz_onnx).
WARM_IMPORTS = {
    "torch": ("torch", "onnx"),
    "tf": ("tensorflow", "keras", "onnx"),
    "torch+tf": ("torch", "tensorflow", "keras", "onnx"),
    "none": ("onnx",),
}

# Variables a zygote's callers may differ in and still share it: a worker reads them only after the fork (the
# folder parity runs from, put on sys.path for a user's factory) or never (pytest's name of the running test,
# which it sets afresh for every test phase). Each forked worker gets its own caller's values.
AFTER_FORK_VARIABLES = ("PARITY_CALLER_DIR", "PYTEST_CURRENT_TEST")  # the first: worker.CALLER_DIR_ENV
READY_TIMEOUT_S = 600.0  # a zygote's imports on a loaded machine; past it the worker starts the plain way
EXIT_STATUS_TIMEOUT_S = 60.0
TAKEN_EXIT_CODE = 3  # another lane started this key's zygote first: use that one


# ----- the run's half ------------------------------------------------------------------------------------------


class ForkedWorker:
    """A worker a zygote forked, with the parts of subprocess.Popen that WorkerProcess uses."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes], zygote: ZygoteLink) -> None:
        self.pid, self.stdin, self.stdout, self._zygote = pid, stdin, stdout, zygote
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not process_running(self.pid):
            return self.wait()
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = self._zygote.exit_status(self.pid)
            for pipe in (self.stdin, self.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
        return self.returncode


def process_running(pid: int) -> bool:
    """Alive and not a zombie waiting for its zygote to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class ZygoteLink:
    """One process's connection to one zygote."""

    def __init__(self, connection: socket.socket, process: subprocess.Popen[bytes] | None) -> None:
        self.connection, self.process = connection, process

    def request(self, message: dict[str, Any], fds: list[int] | None = None,
                timeout: float = EXIT_STATUS_TIMEOUT_S) -> dict[str, Any]:
        self.connection.settimeout(timeout)
        socket.send_fds(self.connection, [json.dumps(message).encode()], fds or [])
        reply = self.connection.recv(65536)
        if not reply:
            raise ConnectionError("the zygote closed the connection")
        answer: dict[str, Any] = json.loads(reply)
        return answer

    def spawn(self, log_path: Path, environment: Mapping[str, str]) -> ForkedWorker:
        task_read, task_write = os.pipe()
        reply_read, reply_write = os.pipe()
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        after_fork = {name: environment.get(name) for name in AFTER_FORK_VARIABLES}
        try:
            answer = self.request({"op": "spawn", "environment": after_fork}, [task_read, reply_write, log],
                                  timeout=READY_TIMEOUT_S)
        except BaseException:
            for fd in (task_write, reply_read):
                os.close(fd)
            raise
        finally:
            for fd in (task_read, reply_write, log):
                os.close(fd)
        if "pid" not in answer:
            os.close(task_write)
            os.close(reply_read)
            raise ConnectionError(f"the zygote could not fork a worker: {answer.get('error', answer)}")
        return ForkedWorker(int(answer["pid"]), os.fdopen(task_write, "wb"), os.fdopen(reply_read, "rb"), self)

    def exit_status(self, pid: int) -> int:
        """The worker's exit code as Popen gives it (-N for signal N); -9 when the zygote cannot say."""
        try:
            return int(self.request({"op": "wait", "pid": pid})["status"])
        except (OSError, ValueError, KeyError):
            return -9

    def close(self) -> None:
        self.connection.close()


class Zygotes:
    """A process's zygotes: started on first need, shared by every pool of the process and with its lanes
    (forked processes), gone when the process is (the lifeline closes with it).

    At most `limit` are kept: past it, the least recently used is retired (it forks no more and exits once its
    workers have). Only the process that made them retires any; a lane that inherits them opens connections of
    its own."""

    def __init__(self, limit: int = 12) -> None:
        self.limit = limit
        self.token = secrets.token_hex(6)
        self.owner_pid = os.getpid()
        self._lifeline_read, self._lifeline_write = os.pipe()
        self._links: dict[str, ZygoteLink] = {}  # least recently used first
        self._links_pid = os.getpid()
        self.unavailable: dict[str, str] = {}  # key -> why workers of that key start the plain way
        self.started = 0  # zygotes this process started
        self.retired = 0

    def spawn(self, python: Path, framework: str, environment: Mapping[str, str], cwd: Path,
              log_path: Path) -> ForkedWorker | None:
        """A worker forked from the zygote of this key, or None when there is none (the caller starts one).
        A zygote that went away (killed, retired by the process that made it) is started again, once."""
        key = zygote_key(python, framework, environment, cwd)
        for attempt in (1, 2):
            if key in self.unavailable:
                return None
            try:
                link = self._link(key, python, framework, environment, cwd, log_path.parent)
                return link.spawn(log_path, environment)
            except (OSError, ValueError) as error:
                self._drop(key)
                if attempt == 2 or not isinstance(error, ConnectionError):
                    self.unavailable[key] = f"{type(error).__name__}: {error}"
        return None

    def prestart(self, python: Path, framework: str, environment: Mapping[str, str], cwd: Path,
                 log_dir: Path) -> None:
        """Start the zygote of this key without waiting for its imports (it answers once bound), so zygotes a
        run will need import side by side instead of one after another at each first worker. A zygote that
        cannot start is left to `spawn`, which says why."""
        key = zygote_key(python, framework, environment, cwd)
        if key in self.unavailable:
            return
        try:
            self._link(key, python, framework, environment, cwd, log_dir)
        except (OSError, ValueError):
            self._drop(key)

    def _link(self, key: str, python: Path, framework: str, environment: Mapping[str, str], cwd: Path,
              log_dir: Path) -> ZygoteLink:
        if self._links_pid != os.getpid():  # a lane: the connections it inherited are its parent's
            for inherited in self._links.values():
                inherited.connection.close()
            self._links, self._links_pid = {}, os.getpid()
        if key in self._links:
            self._links[key] = self._links.pop(key)  # now the most recently used
            return self._links[key]
        if os.getpid() == self.owner_pid:
            while len(self._links) >= self.limit:
                self._retire(next(iter(self._links)))
        address = f"\0parity-zygote-{self.token}-{key}"
        process = None
        connection = connect(address)
        if connection is None:
            process = self._start(address, python, framework, environment, cwd, key, log_dir)
            connection = connect(address)
            if connection is None:
                raise ConnectionError(f"no zygote answers at {address[1:]}")
        self._links[key] = ZygoteLink(connection, process)
        return self._links[key]

    def _start(self, address: str, python: Path, framework: str, environment: Mapping[str, str], cwd: Path,
               key: str, log_dir: Path) -> subprocess.Popen[bytes] | None:
        """Its log goes beside the log of the worker that needed it first."""
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / f"zygote-{framework}-{key}.log", "ab") as log:
            process = subprocess.Popen(
                [str(python), "-m", "harness.execution.zygote", "--framework", framework,
                 "--address", address[1:], "--lifeline", str(self._lifeline_read)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=dict(environment), cwd=cwd,
                pass_fds=(self._lifeline_read,), start_new_session=True)
        assert process.stdout is not None
        # It says "listening" once bound (before its imports: requests queue until it can fork), or exits.
        ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT_S)
        line = process.stdout.readline() if ready else b""
        process.stdout.close()
        if line.strip() == b"listening":
            self.started += 1
            return process
        code = process.wait() if not ready or not line else process.poll()
        if code == TAKEN_EXIT_CODE:
            return None  # another lane's zygote holds the address
        if code is None:
            process.kill()
            process.wait()
        raise ConnectionError(f"the zygote did not start (exit {code}); see its log in {log_dir}")

    def _drop(self, key: str) -> None:
        link = self._links.pop(key, None)
        if link is not None:
            link.close()

    def _retire(self, key: str) -> None:
        """Its workers still get their exit statuses: their ForkedWorker keeps the connection open."""
        link = self._links.pop(key)
        try:
            link.request({"op": "retire"})
        except (OSError, ValueError):
            pass
        self.retired += 1

    def close_links(self) -> None:
        """This process's connections (a lane's pool, done)."""
        for key in list(self._links):
            self._drop(key)

    def close(self) -> None:
        """The connections, and in the process that made them the lifeline: the zygotes exit once every process
        holding it (the run and its lanes) is done."""
        started = [link.process for link in self._links.values() if link.process is not None]
        self.close_links()
        if os.getpid() != self.owner_pid or self._lifeline_write < 0:
            return
        for fd in (self._lifeline_write, self._lifeline_read):
            os.close(fd)
        self._lifeline_write = self._lifeline_read = -1
        for process in started:  # they exit on the closed lifeline; reaped here, not left as zombies
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


_process_zygotes: Zygotes | None = None


def process_zygotes() -> Zygotes:
    """The zygotes of this process, made on first use: every pool of a process forks from them, so a second
    run in one process (a test session, a notebook) imports no framework again. A lane forked from the process
    shares them."""
    global _process_zygotes
    if _process_zygotes is None:
        _process_zygotes = Zygotes()
    return _process_zygotes


def zygote_key(python: Path, framework: str, environment: Mapping[str, str], cwd: Path) -> str:
    """Workers of a zygote are the processes a fresh start with this interpreter, environment and folder gives."""
    shared = sorted((name, value) for name, value in environment.items() if name not in AFTER_FORK_VARIABLES)
    identity = json.dumps([str(python), framework, shared, str(cwd)])
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def connect(address: str) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(address)
    except (ConnectionRefusedError, FileNotFoundError):
        connection.close()
        return None
    return connection


# ----- the server, in the stack's Python ----------------------------------------------------------------------


def same_user(connection: socket.socket) -> bool:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    uid: int = struct.unpack("3i", credentials)[1]
    return uid == os.getuid()


def exit_code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def run_worker(framework: str, fds: list[int], own_fds: list[int], after_fork: Mapping[str, str | None]) -> None:
    """In the forked child: become the worker a fresh `python -m harness.execution.worker` would be."""
    code = 1
    try:
        os.setsid()  # a group of its own, so a timeout's killpg takes the converter's children with it
        for name in AFTER_FORK_VARIABLES:  # the caller's own values, as its fresh worker would have them
            value = after_fork.get(name)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in {*fds, *own_fds}:
            if fd > 2:
                os.close(fd)
        import random

        import numpy as np

        random.seed()  # fresh seeds, as a new interpreter has
        np.random.seed()
        from harness.execution.worker import add_caller_dir, serve

        add_caller_dir()
        serve(framework)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def serve_forks(framework: str, address: str, lifeline: int) -> int:
    listener: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    assert listener is not None
    try:
        listener.bind("\0" + address)
    except OSError:
        return TAKEN_EXIT_CODE
    listener.listen(64)
    print("listening", flush=True)
    os.close(1)
    os.open(os.devnull, os.O_WRONLY)  # fd 1 again, so nothing the imports print lands in a closed pipe
    started = time.perf_counter()
    for module in WARM_IMPORTS[framework]:
        try:
            __import__(module)
        except Exception as error:  # a stack without it: its workers import what they need, and fail, themselves
            print(f"[zygote {os.getpid()}] not imported: {module} ({type(error).__name__})", file=sys.stderr)
    import harness.execution.worker  # noqa: F401 - its imports too
    print(f"[zygote {os.getpid()}] {framework}: imports done in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)

    clients: list[socket.socket] = []
    children: set[int] = set()
    exited: dict[int, int] = {}
    waiting: dict[int, list[socket.socket]] = {}
    while True:
        if listener is None and not children and not waiting and not exited:
            return 0  # retired, and every worker it forked has ended and been asked about
        watched: list[Any] = [*([listener] if listener is not None else []), lifeline, *clients]
        # Reaped within 20 ms while a caller waits for an exit status (a pool closing waits for each worker).
        readable, _, _ = select.select(watched, [], [], 0.02 if waiting else 0.5)
        while True:  # reap every child that ended, answering whoever waits for it
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            exited[pid] = exit_code(status)
            for client in waiting.pop(pid, []):
                client.send(json.dumps({"status": exited.pop(pid)}).encode())
        for ready in readable:
            if ready == lifeline:
                if not os.read(lifeline, 1):
                    return 0  # the run is over
            elif ready is listener:
                client, _ = listener.accept()
                if same_user(client):
                    clients.append(client)
                else:
                    client.close()
            elif ready in clients:
                try:
                    message, fds, _, _ = socket.recv_fds(ready, 65536, 3)
                except OSError:
                    message, fds = b"", []
                if not message:
                    clients.remove(ready)
                    ready.close()
                    continue
                request = json.loads(message)
                if request["op"] == "spawn" and len(fds) == 3 and listener is not None:
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        run_worker(framework, fds, [listener.fileno(), lifeline,
                                                    *(client.fileno() for client in clients)],
                                   request.get("environment", {}))
                    children.add(pid)
                    for fd in fds:
                        os.close(fd)
                    ready.send(json.dumps({"pid": pid}).encode())
                elif request["op"] == "retire":  # fork no more; exit once every worker has been reaped
                    if listener is not None:
                        listener.close()
                        listener = None
                    ready.send(json.dumps({"retiring": True}).encode())
                elif request["op"] == "wait":
                    pid = int(request["pid"])
                    if pid in exited or pid not in children:  # not ours: the caller's "cannot say"
                        ready.send(json.dumps({"status": exited.pop(pid, -9)}).encode())
                    else:
                        waiting.setdefault(pid, []).append(ready)
                else:
                    for fd in fds:
                        os.close(fd)
                    refused = "retired" if listener is None else f"unknown request {request.get('op')!r}"
                    ready.send(json.dumps({"error": refused}).encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", choices=sorted(WARM_IMPORTS), required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--lifeline", type=int, required=True)
    args = parser.parse_args()
    return serve_forks(args.framework, args.address, args.lifeline)


if __name__ == "__main__":
    sys.exit(main())
