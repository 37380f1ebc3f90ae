"""Worker processes, one per (stack, framework), reused across tasks and replaced when they die or hang."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from harness.errors import StackError, WorkerFailure
from harness.execution.stacks import get_stack, harness_import_root
from harness.execution.torch_artifact import TRUSTED_REBUILDS_ENV
from harness.execution.worker import CALLER_DIR_ENV, THREADS_ENV, worker_threads
from harness.execution.zygote import ForkedWorker, Zygotes, process_zygotes

if TYPE_CHECKING:
    from harness.execution.cache import TaskCache


@dataclass
class Step:
    """What one task in a worker gave back: a status other than "ok" carries an error line.

    status: "ok", "error" (the task raised), "crash" or "timeout" (the worker process failed).
    """

    status: str
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False  # the reply came from the task cache, nothing ran


# Signals a converter's own bug raises (a bad memory access, a division by zero, an abort), which the same
# bytes raise again; unlike a kill (out of memory, a timeout), which is the machine's doing.
FAULT_SIGNALS = (signal.SIGSEGV, signal.SIGFPE, signal.SIGBUS, signal.SIGILL, signal.SIGABRT)


def worker_environment(trusted_rebuilds: Sequence[str] = ()) -> dict[str, str]:
    """The environment of a worker; trusted_rebuilds: module:function references (a user's own factory)
    that torch artifacts may name besides the harness's and the plugins' rebuild functions."""
    env = dict(os.environ)
    if trusted_rebuilds:
        env[TRUSTED_REBUILDS_ENV] = ",".join(filter(None, [env.get(TRUSTED_REBUILDS_ENV), *trusted_rebuilds]))
    # One thread per framework in every worker (worker_threads), whatever -j and the machine's cores. A verdict
    # near its bound can turn on float32 rounding, and the rounding of a convolution or a matrix product
    # depends on how many threads split it: measured, one DenseNet121 hop on one input was 4.8e-3 off the
    # truth on two threads (pass) and 6.7e-3 on one (mismatch). Fixed, a run's verdicts are the same with
    # -j 1 and -j 8, and lanes side by side do not fight over the cores.
    threads = str(worker_threads())
    for name in (THREADS_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        env[name] = threads
    # The harness and zoo (the checkout, or links to the installed packages). The caller's directory (for
    # `parity check pkg.module:factory`) goes last on the worker's sys.path, after site-packages, so a stray
    # numpy.py there shadows nothing.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(harness_import_root()), env.get("PYTHONPATH")]))
    env[CALLER_DIR_ENV] = os.getcwd()
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU only: no device probing, the same kernels every run
    env["PYTHONUNBUFFERED"] = "1"
    # tf2onnx's graph rewrites iterate over sets: with a random hash seed one SavedModel converts to graphs
    # that differ by a node from one process to the next, which no cache or report should see.
    env["PYTHONHASHSEED"] = "0"
    return env


def resident_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (a converter may run a child process)."""
    total_kb = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total_kb / 1024


class WorkerProcess:
    def __init__(self, stack: str, framework: str, log_path: Path, memory_limit_mb: float | None = None,
                 trusted_rebuilds: Sequence[str] = (), zygotes: Zygotes | None = None) -> None:
        python = get_stack(stack).ensure()
        self.stack, self.framework, self.log_path = stack, framework, log_path
        self.memory_limit_mb = memory_limit_mb
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
        environment, folder = worker_environment(trusted_rebuilds), harness_import_root()
        forked = zygotes.spawn(python, framework, environment, folder, log_path) if zygotes else None
        self.process: subprocess.Popen[bytes] | ForkedWorker = forked or subprocess.Popen(
            [str(python), "-m", "harness.execution.worker", "--framework", framework],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=environment, cwd=folder,
            start_new_session=True,  # its own process group, so a timeout kills converter children too
        )

    def call(self, task: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write((json.dumps(task) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self.died() from None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerFailure("timeout", f"no answer within {timeout:.0f} s; worker killed")
            # Wake at least twice a second to watch memory: an rlimit would also cap the address space
            # that TensorFlow and torch reserve without using, and break them at import.
            ready, _, _ = select.select([self.process.stdout], [], [], min(remaining, 0.5))
            if self.memory_limit_mb and not ready:
                used = resident_mb(self.process.pid)
                if used > self.memory_limit_mb:
                    self.kill()
                    raise WorkerFailure("crash", f"out of memory: the worker used {used:.0f} MB, over the "
                                                 f"{self.memory_limit_mb:.0f} MB limit; worker killed")
            if ready:
                line = self.process.stdout.readline()
                if not line:
                    raise self.died()
                reply: dict[str, Any] = json.loads(line)
                return reply

    def died(self) -> WorkerFailure:
        code = self.process.wait()
        self._log.flush()
        cause = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        last = self.last_log_line()
        if code == -signal.SIGKILL:
            cause += " (killed: out of memory?)"
        detail = f"; last log line: {last}" if last else ""
        return WorkerFailure("crash", f"worker process died with {cause}{detail}",
                             fault=code in [-number for number in FAULT_SIGNALS])

    def last_log_line(self) -> str:
        self._log.flush()
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return lines[-1].strip()[:300] if lines else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        self._log.close()


# Tasks that load an artifact to run it. They go to workers of their own, which never convert, build or call
# anything: an artifact is judged as a user would run it, loaded from its files by a process holding none of its
# converter's state (a SavedModel's PyFunc callbacks, custom layers or ops a converter registered process-wide).
RUN_TASKS = frozenset({"run"})


def role_of(task: dict[str, Any]) -> str:
    return "run" if task.get("task") in RUN_TASKS else "make"


def machine_memory_mb() -> float:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_resident_mb(worker: WorkerProcess) -> float:
    return resident_mb(worker.process.pid)


# Idle workers are kept for their warm imports (seconds each), but only while all of a run's workers fit in this
# share of the machine's memory. Five stacks, two roles and two lanes make twenty-odd workers of 0.5-2 GB; with
# no swap, a run past memory thrashes (the kernel drops code pages and reads them back), and a conversion that
# takes seconds sits until its timeout. Resident sizes count shared library pages once per worker, so the
# share errs on the side of stopping a worker too many.
IDLE_WORKERS_SHARE_OF_MEMORY = 0.5
FRESH_WORKERS_ENV = "PARITY_FRESH_WORKERS"  # "1": every worker a new interpreter, none forked from a zygote


class WorkerPool:
    """Hands each task to the live worker for its (stack, framework, role), starting a fresh one when needed:
    runs and the rest (conversions, builds, calls) never share a process. Before a new worker starts, the least
    recently used ones are stopped while the live workers' resident memory exceeds `memory_budget_mb`.

    With `fork_workers` (the default unless PARITY_FRESH_WORKERS=1), new workers are forked from a zygote per
    (stack, framework) that did the imports once (harness.execution.zygote), shared by the process's pools and
    its lanes; without, each starts as a new interpreter."""

    def __init__(self, log_dir: Path, *, memory_limit_mb: float | None = None,
                 trusted_rebuilds: Sequence[str] = (), memory_budget_mb: float | None = None,
                 fork_workers: bool | None = None, zygotes: Zygotes | None = None) -> None:
        self.log_dir = log_dir
        self.memory_limit_mb = memory_limit_mb
        self.trusted_rebuilds = tuple(trusted_rebuilds)
        self.memory_budget_mb = (memory_budget_mb if memory_budget_mb is not None
                                 else machine_memory_mb() * IDLE_WORKERS_SHARE_OF_MEMORY)
        self.workers: dict[tuple[str, str, str], WorkerProcess] = {}  # least recently used first
        self.started = 0
        self.stopped_for_memory = 0
        self.planned: list[tuple[str, str]] = []  # see plan()
        if fork_workers is None:
            fork_workers = os.environ.get(FRESH_WORKERS_ENV, "") != "1"
        self.zygotes = zygotes or (process_zygotes() if fork_workers else None)

    def share(self, lanes: int, log_dir: Path | None = None) -> WorkerPool:
        """A pool for one of `lanes` lanes run side by side: the same settings and zygotes, an equal part of the
        budget."""
        return WorkerPool(log_dir or self.log_dir, memory_limit_mb=self.memory_limit_mb,
                          trusted_rebuilds=self.trusted_rebuilds, memory_budget_mb=self.memory_budget_mb / lanes,
                          fork_workers=self.zygotes is not None, zygotes=self.zygotes)

    def _make_room(self) -> None:
        live = [(key, worker, worker_resident_mb(worker)) for key, worker in self.workers.items() if worker.alive()]
        used = sum(size for _, _, size in live)
        for key, worker, size in live:
            if used <= self.memory_budget_mb:
                break
            used -= size
            worker.kill()
            del self.workers[key]
            self.stopped_for_memory += 1

    def plan(self, processes: Iterable[tuple[str, str]]) -> None:
        """The (stack, framework) pairs the work at hand (a cell) may call: when it first needs a new worker,
        the zygotes of all of them start together, so their imports run side by side. Work answered from the task
        cache starts none."""
        self.planned = list(dict.fromkeys(processes))

    def _prestart(self, first: tuple[str, str]) -> None:
        if self.zygotes is None:
            return
        environment, folder = worker_environment(self.trusted_rebuilds), harness_import_root()
        for stack, framework in dict.fromkeys([first, *self.planned]):
            try:
                python = get_stack(stack).ensure(provision=False)
            except StackError:
                continue  # not provisioned yet, or unknown: its worker's own start says so
            self.zygotes.prestart(python, framework, environment, folder, self.log_dir)
        self.planned = []

    def call(self, stack: str, framework: str, task: dict[str, Any], timeout: float, *,
             role: str | None = None) -> dict[str, Any]:
        """`role` sends the task to the worker of another role (a warm-up call before a worker's first run)."""
        key = (stack, framework, role or role_of(task))
        worker = self.workers.pop(key, None)
        if worker is None or not worker.alive():
            self._make_room()
            self._prestart((stack, framework))
            worker = WorkerProcess(stack, framework, self.log_dir / f"worker-{stack}-{framework}-{key[2]}.log",
                                   self.memory_limit_mb, self.trusted_rebuilds, self.zygotes)
            self.started += 1
        self.workers[key] = worker  # now the most recently used
        try:
            return worker.call(task, timeout)
        except WorkerFailure:
            self.workers.pop(key, None)
            raise

    def close(self) -> None:
        # Stopped at once, not asked to exit: between tasks a worker holds nothing unsaved (every file it writes
        # is written atomically, every reply has been read), and a clean exit costs a second or two of
        # TensorFlow's and torch's teardown per worker at the end of every run and every lane.
        for worker in self.workers.values():
            worker.kill()
        self.workers.clear()
        # The zygotes stay: they belong to the process (harness.execution.zygote.process_zygotes).

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def call_task(pool: WorkerPool, stack: str, framework: str, task: dict[str, Any], timeout: float,
              cache: TaskCache | None = None) -> Step:
    """Run one task; a dead or hung worker and a raising task all come back as a Step, never an exception.
    With a cache, a task whose inputs, options and stack are unchanged is answered from it."""
    started = time.perf_counter()
    entry = cache.entry_for(stack, task) if cache is not None else None
    reply = cache.restore(stack, task, entry) if cache is not None and entry is not None else None
    cached = reply is not None
    if reply is None:
        try:
            reply = pool.call(stack, framework, task, timeout)
        except WorkerFailure as failure:
            if failure.fault and cache is not None and entry is not None:
                cache.store(stack, task, {"ok": False, "crash": str(failure)}, entry)
            return Step(failure.status, str(failure), seconds=time.perf_counter() - started)
        if cache is not None and entry is not None:
            cache.store(stack, task, {key: reply[key] for key in ("ok", "result", "error") if key in reply}, entry)
    seconds = time.perf_counter() - started
    if "crash" in reply:  # a fault the converter raised on these very bytes before
        return Step("crash", str(reply["crash"]), seconds=seconds, cached=cached)
    if not reply["ok"]:
        return Step("error", str(reply["error"]), seconds=seconds, cached=cached)
    return Step("ok", result=dict(reply["result"]), seconds=seconds, cached=cached)
