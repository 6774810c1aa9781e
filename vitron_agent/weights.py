"""Where each model family's weights come from, whether they are on this machine, and the error that says how
to get them.

A :class:`Family` (``sam2``, ``grounding``, ``sd``, ...) is declared by the tool or backend that loads it: a
default Hugging Face repo id, the packages that load it, and which files of a repo it needs. A person points a
family elsewhere, most specific first:

1. the environment: ``VITRON_WEIGHTS_SAM2=/models/sam2.1_hiera_small.pt`` (a local file or folder, or a repo id);
2. the workspace's ``vitron.toml``::

       [weights.sam2]
       source = "/models/sam2.1_hiera_small.pt"     # or "facebook/sam2.1-hiera-small"
       config = "configs/sam2.1/sam2.1_hiera_s.yaml" # family-specific extras
       overrides = ["++model.image_size=1024"]

Repo ids resolve through ``huggingface_hub`` (its cache, ``HF_HOME``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE=1``).
Only the files a family loads are fetched: configs, tokenizers and one copy of each weights file (safetensors
before pickles, no fp16 variants or single-file duplicates). Whether they are here is told without importing
``huggingface_hub``'s network code or any deep-learning library, so the doctor and the decision shown before a
call can ask cheaply; a snapshot cut off half-way is not taken for a complete one.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "VISION_PACKAGES",
    "Family",
    "WeightSpec",
    "WeightsUnavailable",
    "cached",
    "fetch",
    "hub_cache",
    "hub_error_text",
    "hub_installed",
    "hub_offline",
    "is_repo_id",
    "missing_packages",
    "settings",
    "wanted_files",
    "weight_spec",
]

VISION_PACKAGES = ("torch", "diffusers", "transformers", "huggingface_hub")
"""What a diffusers pipeline needs to load (all in the ``vision`` extra)."""
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".msgpack", ".h5", ".onnx", ".pb", ".gguf")
_CONFIG_SUFFIXES = (".json", ".txt", ".model", ".yaml", ".yml", ".tiktoken")


class WeightsUnavailable(RuntimeError):
    """The weights a tool needs are neither on disk nor downloadable; the message says how to fix that."""


@dataclass(frozen=True)
class WeightSpec:
    """One model family's configured source and extras.

    ``files`` are the family's file patterns inside a repo (empty: configs plus one copy of each weights file).
    """

    name: str
    source: str
    extras: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    @property
    def local(self) -> bool:
        """The source is a path on this machine rather than a repo id."""
        return not is_repo_id(self.source)


@dataclass(frozen=True)
class Family:
    """A kind of weights a tool loads, declared once by the code that loads it.

    Args:
        name: the family's name in ``vitron.toml`` (``[weights.<name>]``), ``VITRON_WEIGHTS_<NAME>`` and ``pull``.
        default: the Hugging Face repo id used when nothing is configured.
        packages: the import names needed to load it (all in the ``extra``).
        files: file patterns inside a repo; empty means configs plus one copy of each weights file.
        extra: the optional dependency group that installs ``packages``.
    """

    name: str
    default: str
    packages: tuple[str, ...] = VISION_PACKAGES
    files: tuple[str, ...] = ()
    extra: str = "vision"

    def spec(self, workspace: Path | None) -> WeightSpec:
        """The configured source for this family (environment, then ``vitron.toml``, then the default)."""
        return weight_spec(self.name, self.default, workspace, files=self.files)


def settings(workspace: Path | None) -> dict[str, Any]:
    """The workspace's ``vitron.toml`` as plain data ({} when there is none): only its documented keys, checked
    (see :mod:`vitron_agent.config`), the ones it leaves out absent.

    Raises:
        ValueError: the file is not valid TOML, or says something undocumented or unsafe (the message names it).
    """
    if workspace is None or not (workspace / "vitron.toml").is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    from vitron_agent.config import read_settings

    path = workspace / "vitron.toml"
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None
    return read_settings(data, str(path)).model_dump(exclude_unset=True)


def weight_spec(name: str, default: str, workspace: Path | None, *, files: tuple[str, ...] = ()) -> WeightSpec:
    """The configured source for model family ``name`` (environment, then ``vitron.toml``, then ``default``)."""
    section = dict(settings(workspace).get("weights", {}).get(name, {}))
    configured = section.pop("source", None)
    source = os.environ.get(f"VITRON_WEIGHTS_{name.upper()}") or configured or default
    return WeightSpec(name=name, source=str(source), extras=section, files=files)


def is_repo_id(source: str) -> bool:
    """``org/name``, not a path that exists or looks like one."""
    if source.startswith(("/", ".", "~")) or source.count("/") != 1 or Path(source).expanduser().exists():
        return False
    return all(part and part not in (".", "..") for part in source.split("/"))


def hub_installed() -> bool:
    return importlib.util.find_spec("huggingface_hub") is not None


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids downloads, read as huggingface_hub reads it (which need not be
    installed)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def hub_cache() -> Path:
    """The Hugging Face cache folder, from the same variables huggingface_hub reads (it need not be installed)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def wanted_files(paths: Iterable[str], spec: WeightSpec) -> list[str]:
    """The files of a repo that a family loads.

    With ``spec.files`` (or ``filename`` in its extras), the files matching them. Otherwise every config and
    tokenizer file, and in each folder one copy of the weights: safetensors when there are any, else the first
    other format; variants (``model.fp16.safetensors``, ``non_ema``) are left out, and so are a diffusers repo's
    single-file checkpoints beside its ``model_index.json``.
    """
    paths = sorted(set(paths))
    patterns = (spec.extras["filename"],) if spec.extras.get("filename") else spec.files
    if patterns:
        return [path for path in paths if any(fnmatch.fnmatch(path, pattern) for pattern in patterns)]
    diffusers_layout = "model_index.json" in paths
    chosen, weights = [], {}
    for path in paths:
        pure = PurePosixPath(path)
        suffix = pure.suffix.lower()
        if suffix in _CONFIG_SUFFIXES and not pure.name.startswith("."):
            chosen.append(path)
        elif suffix in _WEIGHT_SUFFIXES and not _variant(pure.name):
            folder = str(pure.parent)
            if not (diffusers_layout and folder == "."):
                weights.setdefault(folder, {}).setdefault(suffix, []).append(path)
    for by_format in weights.values():
        for suffix in _WEIGHT_SUFFIXES:  # in order of preference
            if suffix in by_format:
                chosen.extend(by_format[suffix])
                break
    return sorted(chosen)


def _variant(name: str) -> bool:
    """``diffusion_pytorch_model.fp16.safetensors``, ``model.non_ema.bin``: another copy of the same weights."""
    parts = name.lower().split(".")
    return len(parts) > 2 or "non_ema" in name.lower() or "ema_only" in name.lower()


def cached(spec: WeightSpec) -> Path | None:
    """Where the weights already are, whole, on this machine (the configured path, or the repo's snapshot in the
    Hugging Face cache), or None.

    Never touches the network or a deep-learning library. A snapshot counts only when every file the family loads
    is in it, as the cached listing of the repo says, so a download cut off half-way is reported missing.
    """
    local = Path(spec.source).expanduser()
    if local.exists():
        return local
    if not is_repo_id(spec.source):
        return None
    storage = hub_cache() / f"models--{spec.source.replace('/', '--')}"
    ref = storage / "refs" / str(spec.extras.get("revision", "main"))
    if not ref.is_file():
        return None
    snapshot = storage / "snapshots" / ref.read_text().strip()
    if not snapshot.is_dir():
        return None
    listing = _cached_listing(spec.source, ref.read_text().strip())
    if listing is None:  # filled by a client that keeps no listing: any file at all counts
        return snapshot if any(snapshot.rglob("*")) else None
    wanted = wanted_files(listing, spec)
    if not wanted or any(not (snapshot / path).exists() for path in wanted):
        return None
    return snapshot


def _cached_listing(repo_id: str, commit: str) -> list[str] | None:
    """The repo's file list as huggingface_hub cached it when it downloaded (``trees/<commit>.json``)."""
    if not hub_installed():
        return None
    from huggingface_hub import get_cached_repo_tree
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    try:
        return [entry.path for entry in get_cached_repo_tree(repo_id, revision=commit, cache_dir=hub_cache())
                if hasattr(entry, "size")]
    except (CachedRepoTreeNotFoundError, OSError, ValueError):
        return None


_FAILED: dict[tuple[str, str | None], str] = {}


def fetch(spec: WeightSpec, filename: str | None = None, *, workspace: Path | None = None) -> Path:
    """A local path for the weights: the configured file or folder, the cached snapshot, or a download of the
    files the family loads (remembered when it fails, so a machine without network pays the hub's retries once).

    Args:
        filename: one file wanted inside a repo or folder; None means the family's files (a folder).

    Raises:
        WeightsUnavailable: not on disk and not downloadable, with the fix.
    """
    local = Path(spec.source).expanduser()
    if local.exists():
        return local / filename if local.is_dir() and filename else local
    if not hub_installed():
        raise WeightsUnavailable(_unavailable_message(spec, workspace, "huggingface_hub is not installed "
                                                      "(pip install 'vitron-agent[vision]')"))
    if not filename:
        found = cached(spec)
        if found is not None:
            return found
    key = (spec.source, filename)
    if key not in _FAILED:
        from vitron_agent.pull import PullError

        try:
            return _download(spec, filename)
        except PullError as error:  # already a sentence
            _FAILED[key] = str(error).partition(": ")[2] or str(error)
        except Exception as error:  # the hub raises many kinds: offline, missing, gated, bad id, cut off
            _FAILED[key] = hub_error_text(error, spec)
    raise WeightsUnavailable(_unavailable_message(spec, workspace, _FAILED[key]))


def _download(spec: WeightSpec, filename: str | None) -> Path:
    """One file with ``hf_hub_download``, or the family's files as ``vitron-agent pull`` fetches them."""
    from huggingface_hub import hf_hub_download

    from vitron_agent.pull import download, listing

    if not is_repo_id(spec.source):
        raise FileNotFoundError(f"{spec.source} does not exist")
    if filename:
        return Path(hf_hub_download(repo_id=spec.source, filename=filename, revision=spec.extras.get("revision"),
                                    cache_dir=hub_cache()))
    return download(spec, [path for path, _ in listing(spec)])


def hub_error_text(error: BaseException, spec: WeightSpec) -> str:
    """What went wrong talking to the hub, as a sentence for people (no exception names)."""
    from huggingface_hub import constants
    from huggingface_hub import errors as hub

    endpoint = constants.ENDPOINT
    error = _most_telling(error, hub.HfHubHTTPError)
    if isinstance(error, hub.OfflineModeIsEnabled) or (hub_offline() and isinstance(error, OSError)):
        return "HF_HUB_OFFLINE is set, so nothing can be downloaded"
    if isinstance(error, hub.GatedRepoError):
        return f"{spec.source} is gated: accept its terms on the hub and log in with `hf auth login`"
    if isinstance(error, hub.RepositoryNotFoundError):
        return f"the hub at {endpoint} has no model repo {spec.source!r} (404)"
    if isinstance(error, hub.RevisionNotFoundError):
        return f"the repo {spec.source!r} has no revision {spec.extras.get('revision', 'main')!r}"
    if isinstance(error, hub.HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        what = "a server error; try again later" if status >= 500 else "refused the request"
        return f"the hub at {endpoint} answered {status} ({what})"
    if isinstance(error, hub.LocalEntryNotFoundError):
        return f"the hub at {endpoint} could not be reached and the files are not in the cache"
    if _is_connection_error(error):
        return f"the download from {endpoint} was cut off or could not connect; run it again to resume"
    first_line = str(error).strip().splitlines()[0][:200] if str(error).strip() else "no reason given"
    return f"the download failed: {first_line}"


def _chain(error: BaseException) -> list[BaseException]:
    """The error and the ones it was raised from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _most_telling(error: BaseException, kind: type[BaseException]) -> BaseException:
    """The hub's HTTP answer when one lies under a generic error ("not in the cache" after a 500, say)."""
    return next((link for link in _chain(error) if isinstance(link, kind)), error)


def _is_connection_error(error: BaseException) -> bool:
    return any(isinstance(link, (ConnectionError, TimeoutError, EOFError))
               or type(link).__module__.startswith(("httpx", "httpcore")) for link in _chain(error))


def _unavailable_message(spec: WeightSpec, workspace: Path | None, reason: str) -> str:
    config = f"{workspace / 'vitron.toml'}" if workspace else "vitron.toml in the workspace"
    if not is_repo_id(spec.source):
        return (f"the {spec.name} weights {spec.source!r} do not exist on this machine. Point "
                f"[weights.{spec.name}] source in {config} (or VITRON_WEIGHTS_{spec.name.upper()}) at a folder or "
                "file that exists.")
    return (
        f"the {spec.name} weights {spec.source!r} are not on this machine ({reason}). To fix: run "
        f"`vitron-agent pull {spec.name}` (or `hf download {spec.source}`) on a machine with network, then use "
        f"the cache offline; or set VITRON_WEIGHTS_{spec.name.upper()} to a local copy, or [weights.{spec.name}] "
        f"source = ... in {config}."
    )


def missing_packages(packages: Sequence[str]) -> list[str]:
    """The import names among ``packages`` that are not installed (told without importing them)."""
    missing = []
    for name in packages:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing
