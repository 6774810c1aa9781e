"""The model manager: the one owner of every loaded model.

Vitron's demo reloads each model from disk on every call; Visual ChatGPT loads every model at start-up until the
GPU runs out of memory. Here a model is loaded on first use, kept while it is used, and the least recently used
ones are evicted when a new one would overflow the memory budget of its device. A model too large for the budget
on its own is a :class:`ModelTooLarge` error that says what to change, not a crash.

The device and dtype are chosen once: CUDA, then Apple's MPS, then the CPU; bf16 on GPUs that support it, fp16 on
other GPUs, fp32 on the CPU. ``VITRON_DEVICE``, ``VITRON_DTYPE`` and ``VITRON_MEMORY_BUDGET`` (bytes, or "6GB",
"512MB") override them, as do the constructor's arguments.

Usage::

    models = ModelManager()
    predictor = models.get("facebook/sam2.1-hiera-tiny", lambda device, dtype: load_sam2(..., device))
    models.stats()  # {"loads": 1, "hits": 0, "evictions": 0, ...}
"""

from __future__ import annotations

import gc
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DeviceProbe", "ModelKey", "ModelManager", "ModelTooLarge", "estimate_bytes", "human_bytes", "parse_bytes",
           "probe_device"]

Loader = Callable[[str, str], Any]
"""``loader(device, dtype) -> model``; dtype is "float32", "float16" or "bfloat16"."""


class ModelTooLarge(RuntimeError):
    """A model that does not fit its device's memory budget even with everything else evicted."""


@dataclass(frozen=True)
class ModelKey:
    model_id: str
    device: str
    dtype: str


@dataclass
class _Entry:
    model: Any
    size: int


class ModelManager:
    """Loads each model once per (id, device, dtype), reuses it, and evicts least recently used under a budget.

    Args:
        device: "cuda", "cuda:1", "mps" or "cpu"; chosen automatically when None.
        dtype: "float32", "float16" or "bfloat16"; chosen from the device when None.
        budget: bytes allowed per device (an int for the default device, or a dict by device); when None,
            90% of the GPU's memory or half the machine's memory on the CPU.

    Thread-safe: loads are serialised, so two threads asking for one model load it once.
    """

    def __init__(self, *, device: str | None = None, dtype: str | None = None,
                 budget: int | str | dict[str, int] | None = None) -> None:
        self._device = device or os.environ.get("VITRON_DEVICE") or None
        self._dtype = dtype or os.environ.get("VITRON_DTYPE") or None
        budget = budget if budget is not None else os.environ.get("VITRON_MEMORY_BUDGET") or None
        self._budgets: dict[str, int] = {}
        self._default_budget = budget
        self._models: OrderedDict[ModelKey, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self.loads = self.hits = self.evictions = 0

    # -- device and dtype, chosen once ---------------------------------------------------------------------

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = _best_device()
        return self._device

    @property
    def dtype(self) -> str:
        if self._dtype is None:
            self._dtype = _best_dtype(self.device)
        return self._dtype

    def budget(self, device: str | None = None) -> int:
        """The byte budget of ``device`` (default: the manager's device)."""
        device = device or self.device
        if device not in self._budgets:
            configured = self._default_budget
            if isinstance(configured, dict):
                configured = configured.get(device)
            self._budgets[device] = parse_bytes(configured) if configured is not None else _default_budget(device)
        return self._budgets[device]

    # -- the cache -----------------------------------------------------------------------------------------

    def get(self, model_id: str, loader: Loader, *, device: str | None = None, dtype: str | None = None,
            size_hint: int | None = None) -> Any:
        """The model ``model_id`` on ``device`` in ``dtype``, loading it with ``loader(device, dtype)`` if needed.

        Args:
            size_hint: expected bytes, if known; lets eviction happen before loading rather than after.

        Raises:
            ModelTooLarge: the model alone exceeds the device's budget (nothing stays loaded for it).
        """
        key = ModelKey(model_id, device or self.device, dtype or self.dtype)
        with self._lock:
            entry = self._models.get(key)
            if entry is not None:
                self._models.move_to_end(key)
                self.hits += 1
                return entry.model
            budget = self.budget(key.device)
            if size_hint is not None:
                self._check_fits(key, size_hint, budget)
                self._evict_for(key.device, size_hint, budget)
            model = loader(key.device, key.dtype)
            size = estimate_bytes(model)
            if size > budget:
                del model
                _release(key.device)
                self._check_fits(key, size, budget)
            self._evict_for(key.device, size, budget)
            self._models[key] = _Entry(model, size)
            self.loads += 1
            return model

    def prepare_pipeline(self, pipeline: Any, device: str) -> Any:
        """Put a diffusers pipeline on ``device`` under the memory policy, so no tool does it by hand.

        On a GPU: attention slicing and VAE tiling where the pipeline has them, and model CPU offload (diffusers'
        own hooks) when the pipeline would take more than half the device's budget; elsewhere it is just moved.
        """
        if not device.startswith("cuda"):
            return pipeline.to(device)
        for saver in ("enable_attention_slicing", "enable_vae_tiling"):
            if callable(getattr(pipeline, saver, None)):
                getattr(pipeline, saver)()
        if estimate_bytes(pipeline) > self.budget(device) // 2:
            pipeline.enable_model_cpu_offload(device=device)
            return pipeline
        return pipeline.to(device)

    def stats(self) -> dict[str, Any]:
        """Counters and what is resident, for tests, benchmarks and the terminal."""
        with self._lock:
            return {
                "loads": self.loads,
                "hits": self.hits,
                "evictions": self.evictions,
                "resident": [key.model_id for key in self._models],
                "bytes": {d: self._used(d) for d in {k.device for k in self._models}},
            }

    def clear(self) -> None:
        """Unload everything (counted as evictions)."""
        with self._lock:
            for key in list(self._models):
                self._evict(key)

    def _check_fits(self, key: ModelKey, size: int, budget: int) -> None:
        if size > budget:
            raise ModelTooLarge(
                f"model {key.model_id} needs about {human_bytes(size)} on {key.device}, more than the whole budget of "
                f"{human_bytes(budget)}; raise VITRON_MEMORY_BUDGET (or ModelManager(budget=...)), or use a smaller "
                "checkpoint or a lower-precision dtype"
            )

    def _used(self, device: str) -> int:
        return sum(entry.size for key, entry in self._models.items() if key.device == device)

    def _evict_for(self, device: str, size: int, budget: int) -> None:
        for key in [k for k in self._models if k.device == device]:
            if self._used(device) + size <= budget:
                break
            self._evict(key)

    def _evict(self, key: ModelKey) -> None:
        del self._models[key]
        self.evictions += 1
        _release(key.device)


def estimate_bytes(model: Any) -> int:
    """Bytes held by a model's parameters and buffers: a torch module, a diffusers pipeline (its components),
    or an object wrapping one (a predictor's ``.model``)."""
    parameters = getattr(model, "parameters", None)
    buffers = getattr(model, "buffers", None)
    if callable(parameters) and callable(buffers):
        seen: set[int] = set()
        total = 0
        for tensor in [*parameters(), *buffers()]:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
        return total
    components = getattr(model, "components", None)
    if isinstance(components, dict):
        return sum(estimate_bytes(part) for part in components.values() if part is not None)
    inner = getattr(model, "model", None)
    return estimate_bytes(inner) if inner is not None and inner is not model else 0


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(value: int | str) -> int:
    """``6GB`` -> 6e9, ``512MiB`` -> 536870912, plain numbers are bytes.

    Raises:
        ValueError: naming the value and the accepted forms.
    """
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"memory budget {value!r} is not a size; write bytes or a number with KB/MB/GB/MiB/GiB")
    return int(float(match.group(1)) * _UNITS[unit])


def human_bytes(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


@dataclass(frozen=True)
class DeviceProbe:
    """What :func:`probe_device` found: the device, its name and memory when known, the budget, and how it knows."""

    device: str
    name: str
    memory: int | None
    budget: int
    source: str


def probe_device() -> DeviceProbe:
    """The device and memory budget a default :class:`ModelManager` would use, told without importing torch
    (``vitron-agent doctor`` must start fast): ``VITRON_DEVICE``, else an NVIDIA GPU seen by ``nvidia-smi``, else
    Apple silicon's MPS, else the CPU. The manager asks torch itself when it first loads a model, so a CPU-only
    torch build on a GPU machine still ends up on the CPU."""
    import platform
    import shutil
    import subprocess

    device, name, memory, source = "cpu", platform.processor() or platform.machine(), None, "no GPU found"
    if os.environ.get("VITRON_DEVICE"):
        device, source = os.environ["VITRON_DEVICE"], "VITRON_DEVICE"
    elif shutil.which("nvidia-smi"):
        try:
            line = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.splitlines()[0]
            gpu, mebibytes = (part.strip() for part in line.rsplit(",", 1))
            device, name, memory, source = "cuda", gpu, int(float(mebibytes)) * 2**20, "nvidia-smi"
        except (OSError, subprocess.SubprocessError, IndexError, ValueError):
            source = "nvidia-smi is present but did not answer"
    elif platform.system() == "Darwin" and platform.machine() == "arm64":
        device, name, source = "mps", "Apple silicon", "platform"
    configured = os.environ.get("VITRON_MEMORY_BUDGET")
    if configured:
        budget = parse_bytes(configured)
    elif device.startswith("cuda") and memory:
        budget = _default_budget(device, memory)
    else:
        budget = _default_budget("cpu")
    return DeviceProbe(device, name, memory, budget, source)


def _best_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _best_dtype(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device == "mps":
        return "float16"
    return "float32"


def _default_budget(device: str, total: int | None = None) -> int:
    """90% of a GPU's memory (``total`` when known, else asked of torch); half the machine's RAM otherwise."""
    if device.startswith("cuda"):
        if total is None:
            import torch

            total = torch.cuda.get_device_properties(torch.device(device)).total_memory
        return int(total * 0.9)
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.5)


def _release(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
