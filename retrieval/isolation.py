"""Evaluation commands run in a throwaway data directory and database, never in the live app's.

Why: an evaluation ingests its corpus as a document set. In the live database every user would see that set in the
ask, clinician and policy forms while the run lasts, and a run killed mid-way would leave it behind. So, unless told
`--in-place`, an evaluation command re-executes itself (`manage.py COMMAND ... --throwaway-child`) with YIJU_DATA_DIR
a fresh temporary directory and DATABASE_URL a SQLite file in it, which the child migrates first (as bench/ingest.py
runs in a throwaway directory). The parent forwards the child's output and deletes the directory afterwards, Ctrl-C
and SIGTERM included. Nothing the child writes can reach the live database, whether it finishes or is killed.

What must outlive the run is linked from the live data directory (SHARED_WITH_LIVE): the prepared local model, vLLM's
compile cache, the records by which a vLLM server orphaned by a killed run is ended at the next start, and the logs
an error message names. LLM_BASE_URL and every other setting pass through the environment unchanged.

A SIGKILLed parent cannot delete its directory: it stays in the system temp folder under THROWAWAY_PREFIX, its child
is ended by the kernel (parent-death signal, Linux), and the next evaluation removes every such directory that no
process holds any more (parent and child hold a lock file in it while they run).
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper

from ingestion.index import milvus_collections_drop

THROWAWAY_PREFIX = "yiju-evaluation-"
CHILD_FLAG = "--throwaway-child"  # internal: set by the parent on the command it re-executes
IN_PLACE_HELP = (
    "Run in the configured database and data directory instead of a throwaway pair: every user sees the temporary "
    "document set while the run lasts, and a killed run leaves it behind."
)
LOCK_NAME = ".yiju-evaluation.lock"  # marks a throwaway directory; held (shared) by its parent and child
SHARED_WITH_LIVE = ("models", "cache", "run", "logs")  # assistant/llm/local_model.py, local_server.py
PARENT_PID_VARIABLE = "YIJU_EVALUATION_PARENT_PID"
CHILD_STOP_GRACE_S = 60.0  # a child stopping a local vLLM server takes up to about 35 s
UNLOCKED_DIRECTORY_AGE_S = 24 * 3600.0  # a directory without its lock file (creation cut short) is removed after this
_PR_SET_PDEATHSIG = 1

_child_lock: int | None = None  # the child's shared lock, held until the process ends


# --- the parent ---------------------------------------------------------------------------------------------------


def command_run_in_throwaway(
    *, command: str, arguments: Sequence[str], stdout: OutputWrapper, stderr: OutputWrapper
) -> None:
    """Run `manage.py COMMAND ARGUMENTS` in a throwaway data directory and database; raise CommandError if it fails.

    The child's stdout and stderr are forwarded as they come (progress bars included). On Ctrl-C or SIGTERM the
    child is sent the same signal, given time to stop its own servers, then killed; the directory is always removed.
    """
    live_data_dir = Path(settings.DATA_DIR)
    with throwaway_data_dir(live_data_dir=live_data_dir) as data_dir:
        process = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), command, *arguments, CHILD_FLAG],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=throwaway_environment(data_dir=data_dir),
            # Its own process group: a terminal's Ctrl-C reaches the parent only, which passes it on once.
            start_new_session=True,
        )
        forwarders = [
            threading.Thread(target=_forward, kwargs={"source": source, "target": target}, daemon=True)
            for source, target in ((process.stdout, stdout), (process.stderr, stderr))
        ]
        for forwarder in forwarders:
            forwarder.start()
        try:
            with _sigterm_raises_system_exit():
                returncode = process.wait()
        except BaseException as error:
            interrupted = isinstance(error, KeyboardInterrupt)
            _child_stop(process=process, first=signal.SIGINT if interrupted else signal.SIGTERM)
            raise
        finally:
            for forwarder in forwarders:
                forwarder.join(timeout=10)
    if returncode < 0:
        raise CommandError(f"the evaluation was ended by signal {-returncode}")
    if returncode:
        raise CommandError(f"the evaluation failed (exit status {returncode}; its error is above)",
                           returncode=returncode)


@contextlib.contextmanager
def throwaway_data_dir(*, live_data_dir: Path) -> Iterator[Path]:
    """A fresh data directory in the system temp folder, linked to what the live one shares; removed on exit.

    Directories left by killed runs are removed first. The lock file is created under another name, locked, then
    renamed, so a concurrent sweep never sees an unlocked lock file in a directory still in use.
    """
    stale_throwaway_dirs_remove()
    data_dir = Path(tempfile.mkdtemp(prefix=THROWAWAY_PREFIX)).resolve()  # as settings.DATA_DIR will be
    lock = None
    try:
        lock = os.open(data_dir / f"{LOCK_NAME}.new", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_SH)
        os.rename(data_dir / f"{LOCK_NAME}.new", data_dir / LOCK_NAME)
        for name in SHARED_WITH_LIVE:
            target = live_data_dir / name
            with contextlib.suppress(OSError):  # a read-only live directory: the child makes its own
                target.mkdir(parents=True, exist_ok=True)
                (data_dir / name).symlink_to(target.resolve(), target_is_directory=True)
        yield data_dir
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)  # links are removed, never followed
        milvus_collections_drop(prefix=throwaway_collection_prefix(data_dir=data_dir))
        if lock is not None:
            os.close(lock)


def stale_throwaway_dirs_remove(*, temp_root: Path | None = None) -> list[Path]:
    """Remove the throwaway directories of killed runs: those whose lock no process holds. Returns them."""
    removed = []
    for data_dir in Path(temp_root or tempfile.gettempdir()).glob(f"{THROWAWAY_PREFIX}*"):
        if data_dir.is_symlink() or not data_dir.is_dir():
            continue
        try:
            lock = os.open(data_dir / LOCK_NAME, os.O_RDONLY)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                if time.time() - data_dir.stat().st_mtime > UNLOCKED_DIRECTORY_AGE_S:
                    shutil.rmtree(data_dir, ignore_errors=True)
                    removed.append(data_dir)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            continue  # a run still holds it
        try:
            shutil.rmtree(data_dir, ignore_errors=True)
            milvus_collections_drop(prefix=throwaway_collection_prefix(data_dir=data_dir))
            removed.append(data_dir)
        finally:
            os.close(lock)
    return removed


def throwaway_collection_prefix(*, data_dir: Path) -> str:
    """The Milvus collection prefix of a throwaway run: the live prefix and the directory's name."""
    return f"{settings.MILVUS_COLLECTION_PREFIX}_{re.sub(r'[^A-Za-z0-9]', '_', data_dir.name)}"


def throwaway_environment(*, data_dir: Path) -> dict[str, str]:
    """This process's environment with every path Yiju writes, and the database, inside data_dir."""
    environment = dict(os.environ)
    environment.update(
        {
            "YIJU_DATA_DIR": str(data_dir),
            "YIJU_INDEX_DIR": str(data_dir / "index"),
            "YIJU_MEDIA_ROOT": str(data_dir / "media"),
            "DATABASE_URL": f"sqlite:///{data_dir / 'yiju.sqlite3'}",
            PARENT_PID_VARIABLE: str(os.getpid()),
            "PYTHONUNBUFFERED": "1",  # JSON lines and progress arrive as they are written, not at exit
            # With SEARCH_ENGINE=milvus the child's rows go to collections of their own: its chunk ids (a fresh
            # database's) would otherwise overwrite the live rows of the same ids.
            "MILVUS_COLLECTION_PREFIX": throwaway_collection_prefix(data_dir=data_dir),
            "SEARCH_ENGINE": settings.SEARCH_ENGINE,  # this process's, when set otherwise than in the environment
        }
    )
    # The settings module this process runs on (None under override_settings: the environment's then).
    module = settings.SETTINGS_MODULE or os.environ.get("DJANGO_SETTINGS_MODULE")
    if module:
        environment["DJANGO_SETTINGS_MODULE"] = module
    return environment


def _forward(*, source: IO[bytes], target: OutputWrapper) -> None:
    """Copy a pipe to a command's output as it comes, unchanged (no added newline or colour: tqdm redraws with \\r)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    descriptor = source.fileno()
    while True:
        data = os.read(descriptor, 65536)
        text = decoder.decode(data, final=not data)
        if text:
            with contextlib.suppress(ValueError, OSError):  # the target was closed: keep draining the pipe
                target.write(text, style_func=_unstyled, ending="")
                target.flush()
        if not data:
            source.close()
            return


def _unstyled(text: str) -> str:
    return text


@contextlib.contextmanager
def _sigterm_raises_system_exit() -> Iterator[None]:
    """While the child runs, SIGTERM unwinds the parent (so it stops the child and removes the directory)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _child_stop(*, process: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Send the child `first`, wait for it to clean up after itself, then kill what is left."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(first)
    try:
        process.wait(timeout=CHILD_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- the child ----------------------------------------------------------------------------------------------------


def throwaway_child_prepare() -> None:
    """In the re-executed command: make sure it really is a throwaway environment, tie it to its parent, migrate.

    Refuses to run in any other database, so the internal flag can never turn a live database into a scratch one.
    """
    global _child_lock
    data_dir = Path(settings.DATA_DIR)
    database = settings.DATABASES["default"]
    if (
        not data_dir.name.startswith(THROWAWAY_PREFIX)
        or not (data_dir / LOCK_NAME).is_file()
        or database["ENGINE"] != "django.db.backends.sqlite3"
        or Path(database["NAME"]).resolve().parent != data_dir.resolve()
    ):
        raise CommandError(f"{CHILD_FLAG} is internal: the command sets it on the copy of itself it runs")
    _die_with_parent()
    _child_lock = os.open(data_dir / LOCK_NAME, os.O_RDONLY)
    fcntl.flock(_child_lock, fcntl.LOCK_SH)
    call_command("migrate", verbosity=0, interactive=False)


def _die_with_parent() -> None:
    """Have the kernel send SIGTERM when the parent dies (a SIGKILLed parent cannot stop the child itself)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the directory is swept by a later run
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = os.environ.get(PARENT_PID_VARIABLE, "")
    if parent.isdigit() and os.getppid() != int(parent):
        raise CommandError("the evaluation's parent process is gone")
