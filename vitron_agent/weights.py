"""Where each tool's weights come from, and the error that says how to get them.

Each model family has a name (``sam2``, ``grounding``, ...) and a default Hugging Face repo id. A person points it
elsewhere, most specific first:

1. the environment: ``VITRON_WEIGHTS_SAM2=/models/sam2.1_hiera_small.pt`` (a local file or folder, or a repo id);
2. the workspace's ``vitron.toml``::

       [weights.sam2]
       source = "/models/sam2.1_hiera_small.pt"     # or "facebook/sam2.1-hiera-small"
       config = "configs/sam2.1/sam2.1_hiera_s.yaml" # family-specific extras
       overrides = ["++model.image_size=1024"]

Repo ids resolve through ``huggingface_hub``, so its cache and ``HF_HUB_OFFLINE=1`` apply. A failed resolution
is remembered for the process, so a machine without network pays the hub's retries once, not per call.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["WeightSpec", "WeightsUnavailable", "cached", "fetch", "hub_offline", "settings", "weight_spec"]


class WeightsUnavailable(RuntimeError):
    """The weights a tool needs are neither on disk nor downloadable; the message says how to fix that."""


@dataclass(frozen=True)
class WeightSpec:
    """One model family's configured source and extras."""

    name: str
    source: str
    extras: dict[str, Any] = field(default_factory=dict)


def settings(workspace: Path | None) -> dict[str, Any]:
    """The workspace's ``vitron.toml`` as a dict ({} when there is none).

    Raises:
        ValueError: the file exists but is not valid TOML (the message names it).
    """
    if workspace is None or not (workspace / "vitron.toml").is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    path = workspace / "vitron.toml"
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None


def weight_spec(name: str, default: str, workspace: Path | None) -> WeightSpec:
    """The configured source for model family ``name`` (environment, then ``vitron.toml``, then ``default``)."""
    section = dict(settings(workspace).get("weights", {}).get(name, {}))
    configured = section.pop("source", None)
    source = os.environ.get(f"VITRON_WEIGHTS_{name.upper()}") or configured or default
    return WeightSpec(name=name, source=str(source), extras=section)


_FAILED: dict[tuple[str, str | None], str] = {}


def fetch(spec: WeightSpec, filename: str | None = None, *, workspace: Path | None = None) -> Path:
    """A local path for the weights: the configured file or folder, or the hub download (cached).

    Args:
        filename: the file wanted inside a repo or folder; None means the whole repo (a folder).

    Raises:
        WeightsUnavailable: not on disk and not downloadable, with the fix.
    """
    local = Path(spec.source).expanduser()
    if local.exists():
        return local / filename if local.is_dir() and filename else local
    key = (spec.source, filename)
    if key not in _FAILED:
        try:
            from huggingface_hub import hf_hub_download, snapshot_download

            if filename:
                return Path(hf_hub_download(repo_id=spec.source, filename=filename))
            return Path(snapshot_download(repo_id=spec.source))
        except Exception as error:  # the hub raises many kinds: offline, missing, gated, bad id
            _FAILED[key] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    raise WeightsUnavailable(_unavailable_message(spec, filename, _FAILED[key], workspace))


def cached(spec: WeightSpec) -> Path | None:
    """Where the weights already are on this machine (the configured path, or the repo's snapshot in the Hugging
    Face cache), or None; never touches the network or a deep-learning library, so the doctor and the decision
    panel can ask it cheaply."""
    local = Path(spec.source).expanduser()
    if local.exists():
        return local
    if spec.source.count("/") != 1:
        return None
    from huggingface_hub import constants

    # The hub cache's documented layout: models--{org}--{name}/snapshots/{revision}/...
    snapshots = Path(constants.HF_HUB_CACHE) / f"models--{spec.source.replace('/', '--')}" / "snapshots"
    filled = [folder for folder in sorted(snapshots.glob("*")) if any(folder.iterdir())]
    return filled[-1] if filled else None


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids downloads (read the way huggingface_hub reads it)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _unavailable_message(spec: WeightSpec, filename: str | None, reason: str, workspace: Path | None) -> str:
    from huggingface_hub import constants

    wanted = f"{spec.source}/{filename}" if filename else spec.source
    config = f"{workspace / 'vitron.toml'}" if workspace else "vitron.toml in the workspace"
    offline = "on" if constants.HF_HUB_OFFLINE else "off"
    return (
        f"the {spec.name} weights {wanted!r} are not available. Looked for a local path {spec.source!r} and in the "
        f"Hugging Face cache {constants.HF_HUB_CACHE} (HF_HUB_OFFLINE is {offline}; the hub said: {reason}). "
        f"To fix: run `hf download {spec.source}` on a machine with network (the cache is then used offline), "
        f"or set VITRON_WEIGHTS_{spec.name.upper()} to a local copy, or [weights.{spec.name}] source = ... in {config}."
    )
