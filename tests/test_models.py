"""The model manager: load once, reuse, evict least recently used under a budget, refuse what cannot fit."""

from __future__ import annotations

import threading

import pytest

torch = pytest.importorskip("torch")

from vitron_agent.models import ModelManager, ModelTooLarge, estimate_bytes, parse_bytes  # noqa: E402

MB = 2**20


def linear(megabytes: float) -> torch.nn.Module:
    """A real module holding about ``megabytes`` of float32 weights."""
    side = int((megabytes * MB / 4) ** 0.5)
    return torch.nn.Linear(side, side, bias=False)


class Counting:
    """A loader that counts how often it really loads."""

    def __init__(self, megabytes: float) -> None:
        self.megabytes, self.calls = megabytes, 0

    def __call__(self, device: str, dtype: str) -> torch.nn.Module:
        self.calls += 1
        return linear(self.megabytes).to(device=device, dtype=getattr(torch, dtype))


def test_loads_once_then_hits() -> None:
    models = ModelManager(device="cpu", budget=100 * MB)
    loader = Counting(4)
    first = models.get("a", loader)
    assert models.get("a", loader) is first and loader.calls == 1
    assert models.stats()["loads"] == 1 and models.stats()["hits"] == 1
    assert models.dtype == "float32" and first.weight.dtype == torch.float32


def test_three_models_under_a_budget_that_holds_two() -> None:
    models = ModelManager(device="cpu", budget=9 * MB)
    loaders = {name: Counting(4) for name in "abc"}
    models.get("a", loaders["a"])
    models.get("b", loaders["b"])
    models.get("a", loaders["a"])  # a is now the most recently used
    models.get("c", loaders["c"])  # so b goes
    stats = models.stats()
    assert stats["resident"] == ["a", "c"] and stats["evictions"] == 1
    assert stats["bytes"]["cpu"] <= 9 * MB
    models.get("b", loaders["b"])
    assert loaders["b"].calls == 2 and models.stats()["resident"] == ["c", "b"]


def test_a_model_larger_than_the_budget_is_a_clear_error() -> None:
    models = ModelManager(device="cpu", budget=2 * MB)
    with pytest.raises(ModelTooLarge, match="raise VITRON_MEMORY_BUDGET"):
        models.get("big", Counting(8))
    assert models.stats()["resident"] == []
    with pytest.raises(ModelTooLarge):
        models.get("big", Counting(8), size_hint=8 * MB)


def test_keys_include_device_and_dtype() -> None:
    models = ModelManager(device="cpu", budget=100 * MB)
    loader = Counting(1)
    half = models.get("a", loader, dtype="bfloat16")
    full = models.get("a", loader)
    assert loader.calls == 2 and half.weight.dtype == torch.bfloat16 and full.weight.dtype == torch.float32
    assert estimate_bytes(half) * 2 == estimate_bytes(full)


def test_threads_share_one_load() -> None:
    models = ModelManager(device="cpu", budget=100 * MB)
    loader = Counting(2)
    threads = [threading.Thread(target=models.get, args=("a", loader)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loader.calls == 1 and models.stats()["hits"] == 7


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRON_DEVICE", "cpu")
    monkeypatch.setenv("VITRON_DTYPE", "bfloat16")
    monkeypatch.setenv("VITRON_MEMORY_BUDGET", "3MiB")
    models = ModelManager()
    assert (models.device, models.dtype, models.budget()) == ("cpu", "bfloat16", 3 * MB)


def test_parse_bytes() -> None:
    assert parse_bytes("6GB") == 6 * 10**9 and parse_bytes("512 MiB") == 512 * MB and parse_bytes(1000) == 1000
    with pytest.raises(ValueError, match="not a size"):
        parse_bytes("lots")


def test_estimate_bytes_looks_inside_wrappers() -> None:
    class Predictor:
        def __init__(self) -> None:
            self.model = linear(1)

    assert estimate_bytes(Predictor()) == estimate_bytes(Predictor().model) > 0
    assert estimate_bytes(object()) == 0
