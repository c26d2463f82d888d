"""Unpacking a package while its upload is still arriving (the child side of :mod:`receiver`).

A 100 MB deploy used to run its steps one after the other: send, hash the upload, read it again
to unpack and hash every file, start a loader, load. Here one child process follows the upload
as it arrives and does, in one pass over the bytes: the upload's sha256, the manifest and its
signature (checked before a single model byte is unpacked), the unpack of every file into a
locked staging folder with its own sha256, and then a warm-up load of the staged model (by a
:class:`~device_runtime.store.warmup.Loader` started with it, which imports the backend
meanwhile). It then waits for the daemon's word: ``commit`` (the import was asked for: trust and admission are
checked again and the folder is renamed into the store) or nothing (it removes its staging).

An upload whose sha256 comes only at its end (protocol 3) is staged the same way; the daemon
hands the verified sha256 over with ``commit``, and the child commits only bytes that hashed to it.

Nothing it does is trusted unless it all matched: a failure here only means the import takes
the usual path, which then gives the usual refusal. Output: one JSON object a line, as
:mod:`child`: ``hashed``, ``prepared``, ``warm`` or ``warm_error``, then ``result`` or ``error``,
or ``failed`` when receiving stops.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from typing import IO, Any, Callable, Dict, List, Optional

from device_runtime.package_format.errors import StoreError, io_error
from device_runtime.package_format.package import PackageReader
from device_runtime.store.growing import GrowingFile, Stalled
from device_runtime.store.staging import Staged
from device_runtime.store.store import ImportOutcome, Store
from device_runtime.store.warmup import Loader

Emit = Callable[[Dict[str, Any]], None]
IDLE_S = 60.0  # a sender silent this long has gone: stop following
COMMIT_WAIT_S = 120.0  # a staged version nobody imports is removed after this


class Commands:
    """The daemon's lines on stdin, read on a thread of their own. Their end (the daemon closed
    the pipe, or died) sets ``ended`` at once, which also stops following an upload that no
    longer grows: a daemon that stops is not kept waiting."""

    def __init__(self, stream: IO[str]) -> None:
        self.ended = threading.Event()
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()  # noqa: UP037 (3.8 has no Queue[...])
        threading.Thread(target=self._read, args=(stream,), name="commands", daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        self.ended.set()
        self._lines.put(None)

    def next(self, timeout_s: float) -> Optional[Dict[str, Any]]:
        """The next command, or None at the end of the input or after ``timeout_s``."""
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            return None
        try:
            data = json.loads(line) if line else None
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def receive(store: Store, part: str, sha256: str, size: int, emit: Emit, commands: IO[str],
            idle_s: float = IDLE_S, commit_wait_s: float = COMMIT_WAIT_S,
            idle: Callable[[], None] = lambda: None) -> int:
    """Follow the upload, stage it, warm it up, then wait for ``commit`` (``idle`` is called
    before that wait: the child gives memory back)."""
    loader = Loader(reserve=size)  # the backend is imported in its own process while the bytes arrive
    daemon_says = Commands(commands)
    growing = GrowingFile(part, size, idle_s, on_complete=lambda digest: emit({"hashed": digest, "size": size}),
                          cancel=daemon_says.ended)
    reader = PackageReader(part, store.config().max_package_bytes, source=growing)
    staged: Optional[Staged] = None
    warmer: List[threading.Thread] = []
    warmed: Dict[str, Any] = {}

    def warm_up(unpacked: Staged) -> None:  # every file matched: load it while the fsyncs run
        def run() -> None:
            warmed.update(loader.warm(unpacked.path, unpacked.manifest))

        warmer.append(threading.Thread(target=run, name="warm-up", daemon=True))
        warmer[0].start()

    try:
        # The rest of the upload needs its room too: receiving must never be what fills the disk.
        result = store.stage(reader, unpacked=warm_up, reserve=lambda: size - growing.offset)
        if isinstance(result, ImportOutcome):
            emit({"failed": {"message": "%s %s is stored already" % (result.manifest.name, result.manifest.version)}})
            return 1
        staged = result
        if not growing.complete or (sha256 and growing.hexdigest() != sha256):
            emit({"failed": {"message": "the bytes that arrived are not the upload announced"}})
            return 1
        emit({"prepared": {"name": staged.manifest.name, "version": staged.manifest.version}})
        warmer[0].join()
        emit(warmed)
        idle()
        command = daemon_says.next(commit_wait_s)
        if command is None or "commit" not in command:
            return 1
        if command["commit"].get("sha256") != growing.hexdigest():  # the upload's verified sha256
            emit({"failed": {"message": "the bytes that arrived are not the upload that was verified"}})
            return 1
        who, why = str(command["commit"].get("who", "")), str(command["commit"].get("why", ""))
        committing, staged = staged, None  # commit_staged renames it into the store or removes it
        try:
            outcome = store.commit_staged(committing, who, why, recheck=True)
        except OSError as exc:
            failure = io_error("importing %s" % os.path.basename(part), exc, store.path("models"))
            emit({"error": {"code": failure.code, "message": failure.message}})
            return 1
        except StoreError as exc:
            emit({"error": {"code": exc.code, "message": exc.message}})
            return 1
        emit({"result": {"name": outcome.manifest.name, "version": outcome.manifest.version,
                         "signer": outcome.signer, "already": outcome.already}})
        return 0
    except StoreError as exc:
        emit({"failed": {"code": exc.code, "message": exc.message}})
        return 1
    except (Stalled, OSError) as exc:
        emit({"failed": {"message": str(exc)}})
        return 1
    finally:
        reader.close()
        for thread in warmer:  # it reads the staged files: done with them before they go
            thread.join()
        loader.close()
        if staged is not None:
            staged.release(remove=True)


def open_commands(fd: int = 0) -> IO[str]:
    return os.fdopen(fd, "r", closefd=False)
