"""Worker processes that run one detector for all cameras: `await pool.detect(image)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import signal
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from vigil import allocator
from vigil.detect.objects.base import (
    DEFAULT_DETECTOR,
    DetectorError,
    WorkerDiedError,
    create_detector,
)
from vigil.detect.types import Bgr, Detection

log = logging.getLogger(__name__)

# spawn, not fork: the parent runs an event loop and threads that a forked child must not inherit.
_CONTEXT = mp.get_context("spawn")


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """Which detector the workers build: a registered name and its options (picklable)."""

    name: str = DEFAULT_DETECTOR
    options: Mapping[str, Any] = field(default_factory=dict)


def _worker_main(conn: Connection, spec: DetectorSpec) -> None:
    """A worker: build the detector once, then answer one image at a time until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        detector = create_detector(spec.name, **spec.options)
    except Exception as e:
        conn.send(("error", e if isinstance(e, DetectorError) else DetectorError(str(e))))
        return
    conn.send(("ready", None))
    # Frames and the model's buffers are large and short-lived: keep them off the arenas and
    # hand what the allocator keeps back to the system now and then (see vigil.allocator).
    allocator.tune()
    trimmed = time.monotonic()
    try:
        while (image := conn.recv()) is not None:
            try:
                conn.send(("ok", detector.detect(image)))
            except DetectorError as e:
                conn.send(("error", e))
            except Exception as e:  # a bug or a bad frame must not kill the worker
                conn.send(("error", DetectorError(f"detector {spec.name!r} failed: {e!r}")))
            if time.monotonic() - trimmed > allocator.TRIM_SECONDS:
                allocator.trim()
                trimmed = time.monotonic()
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        detector.close()


class WorkerTimeoutError(DetectorError):
    """A worker took longer than the call timeout (it is killed and replaced)."""


class _Worker:
    """One worker process and the parent's end of its pipe; used by one call at a time."""

    def __init__(self, spec: DetectorSpec) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process: BaseProcess = _CONTEXT.Process(
            target=_worker_main, args=(child, spec), name=f"vigil-detect-{spec.name}", daemon=True
        )
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> None:
        """Block until the detector is built; its error, or WorkerDiedError, otherwise."""
        if not self.conn.poll(timeout):
            raise DetectorError(f"detector worker did not start within {timeout} s")
        try:
            status, error = self._recv()
        except WorkerDiedError as e:
            self.process.join(1.0)
            code = self.process.exitcode
            raise DetectorError(f"detector worker exited while starting (exit code {code})") from e
        if status == "error":
            raise error

    def call(self, image: Bgr, timeout: float) -> list[Detection]:
        """Detections for `image` from the worker (blocking)."""
        try:
            self.conn.send(image)
        except (BrokenPipeError, ConnectionResetError, EOFError) as e:
            raise WorkerDiedError("detector worker died; it is being replaced") from e
        if not self.conn.poll(timeout):
            raise WorkerTimeoutError(f"detector worker did not answer within {timeout} s")
        status, result = self._recv()
        if status == "error":
            raise result
        detections: list[Detection] = result
        return detections

    def _recv(self) -> tuple[str, Any]:
        try:
            message: tuple[str, Any] = self.conn.recv()
        except (EOFError, ConnectionResetError, OSError) as e:
            raise WorkerDiedError("detector worker died; it is being replaced") from e
        return message

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to finish, then kill it if it does not."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class DetectorPool:
    """`workers` processes running one detector, shared by all cameras.

    Each call goes to an idle worker (calls wait for one). The default SSD model takes one
    image a call, so throughput scales with workers, about one per core. A worker that dies
    or hangs is replaced; the call that met it raises DetectorError and the next ones go on.
    """

    def __init__(
        self,
        spec: DetectorSpec | None = None,
        *,
        workers: int = 2,
        call_timeout: float = 10.0,
        start_timeout: float = 60.0,
    ) -> None:
        if workers < 1:
            raise ValueError("a detector pool needs at least one worker")
        self.spec = spec or DetectorSpec()
        self.size = workers
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self._idle: deque[_Worker] = deque()
        # Callers waiting for a worker, served first come first served: a camera that asks
        # again right after an answer must not jump ahead of the others.
        self._waiters: deque[asyncio.Future[_Worker]] = deque()
        self._workers: set[_Worker] = set()
        self._replacing: set[asyncio.Task[None]] = set()
        self._closed = False

    async def __aenter__(self) -> DetectorPool:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start every worker and build its detector; the detector's error if it cannot."""
        results = await asyncio.gather(
            *(self._spawn() for _ in range(self.size)), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await self.close()
            raise errors[0]

    async def _spawn(self) -> None:
        worker = await asyncio.to_thread(_Worker, self.spec)
        self._workers.add(worker)
        try:
            await asyncio.to_thread(worker.wait_ready, self.start_timeout)
        except BaseException:
            self._workers.discard(worker)
            await asyncio.to_thread(worker.stop, 1.0)
            raise
        if self._closed:
            self._workers.discard(worker)
            await asyncio.to_thread(worker.stop)
            return
        self._give(worker)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.process.pid for w in self._workers if w.process.pid is not None and w.alive]

    async def detect(self, image: Bgr) -> list[Detection]:
        """Objects in `image` (normalised boxes), from whichever worker is idle first."""
        if self._closed:
            raise DetectorError("detector pool is closed")
        if not self._workers and not self._replacing:
            raise DetectorError("detector pool has no workers left")
        worker = await self._acquire()
        call = asyncio.get_running_loop().run_in_executor(
            None, worker.call, image, self.call_timeout
        )
        try:
            result = await asyncio.shield(call)
        except asyncio.CancelledError:
            # The worker is still busy with this frame: take it back once it has answered.
            call.add_done_callback(lambda _: self._release(worker))
            raise
        except (WorkerDiedError, WorkerTimeoutError):
            self._replace(worker)
            raise
        except BaseException:
            self._release(worker)
            raise
        self._release(worker)
        return result

    def _release(self, worker: _Worker) -> None:
        if worker.alive:
            self._give(worker)
        else:
            self._replace(worker)

    async def _acquire(self) -> _Worker:
        if self._idle and not self._waiters:
            return self._idle.popleft()
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give(waiter.result())  # handed over just as we were cancelled
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def _give(self, worker: _Worker) -> None:
        if worker not in self._workers:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def _fail_waiters(self, reason: str) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(DetectorError(reason))

    def _replace(self, worker: _Worker) -> None:
        if worker not in self._workers:
            return
        self._workers.discard(worker)
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._respawn(worker))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _respawn(self, old: _Worker) -> None:
        log.warning("detector worker %s stopped; starting another", old.process.pid)
        await asyncio.to_thread(old.stop, 1.0)
        try:
            await self._spawn()
        except DetectorError as e:
            log.error("could not replace detector worker: %s", e)
            if not self._workers and len(self._replacing) <= 1:  # this task is the last
                self._fail_waiters(f"detector pool has no workers left: {e}")

    async def close(self) -> None:
        """Stop every worker (each finishes its current frame first)."""
        self._closed = True
        self._fail_waiters("detector pool is closed")
        self._idle.clear()
        for task in list(self._replacing):
            task.cancel()
        await asyncio.gather(*self._replacing, return_exceptions=True)
        workers, self._workers = list(self._workers), set()
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
