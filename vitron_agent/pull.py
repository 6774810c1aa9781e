"""``vitron-agent pull``: fetch the weights a workspace needs ahead of time, through ``huggingface_hub``.

A family is fetched into the Hugging Face cache (``HF_HOME``, from ``HF_ENDPOINT``), exactly where the tools look
for it at run time, and only the files it loads (see :func:`~vitron_agent.weights.wanted_files`). The hub keeps a
half-fetched file under a temporary name and resumes it next time, and a snapshot counts as present only when all
of its files are there, so a cut-off download is never taken for a good one.

Usage::

    targets = plan(workspace, ["sd"])            # what is configured, and whether it is here
    for target in targets:
        if target.present is None:
            files = listing(target.spec)         # [(path, size), ...] from the hub
            download(target.spec, [path for path, _ in files])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitron_agent.weights import Family, WeightSpec, cached, hub_cache, wanted_files

__all__ = ["PullError", "Target", "download", "families", "listing", "plan"]


class PullError(RuntimeError):
    """Something a person can mend (an unknown family, a missing local folder, the hub's answer): one line."""


@dataclass(frozen=True)
class Target:
    """One family to fetch: its configured source, and where it already is (None: not here)."""

    family: Family
    spec: WeightSpec
    present: Path | None


def families(tools: Any = None) -> dict[str, Family]:
    """Every weights family the loaded tools declare, by name, in the tools' order."""
    from vitron_agent.tools import load_tools

    found: dict[str, Family] = {}
    for tool in load_tools(tools).values():
        for family in getattr(tool, "weight_families", ()):
            found.setdefault(family.name, family)
    return found


def plan(workspace: Path, names: Sequence[str], *, tools: Any = None) -> list[Target]:
    """The families to consider (``names``, or every family the tools declare) with their configured sources.

    Raises:
        PullError: an unknown family name.
        ValueError: the workspace's ``vitron.toml`` is broken.
    """
    known = families(tools)
    unknown = [name for name in names if name not in known]
    if unknown:
        names_text = ", ".join(map(repr, unknown))
        raise PullError(f"unknown weights famil{'y' if len(unknown) == 1 else 'ies'} {names_text}; the families "
                        f"are: {', '.join(known)}")
    chosen = [known[name] for name in dict.fromkeys(names)] if names else list(known.values())
    targets = []
    for family in chosen:
        spec = family.spec(workspace)
        targets.append(Target(family, spec, cached(spec)))
    return targets


def listing(spec: WeightSpec) -> list[tuple[str, int | None]]:
    """The files of ``spec``'s repo that its family loads, with their sizes as the hub reports them.

    Raises:
        PullError: the hub could not be asked, or answered with an error (the message says which).
    """
    from huggingface_hub import HfApi

    from vitron_agent.weights import hub_error_text

    try:
        entries = [entry for entry in HfApi().list_repo_tree(spec.source, recursive=True, revision=_revision(spec))
                   if hasattr(entry, "size")]
    except Exception as error:  # the hub's errors are many; each becomes one sentence
        raise PullError(f"{spec.name}: {hub_error_text(error, spec)}") from None
    sizes = {entry.path: entry.size for entry in entries}
    chosen = wanted_files(sizes, spec)
    if not chosen:
        raise PullError(f"{spec.name}: the repo {spec.source!r} holds none of the files this family loads")
    return [(path, sizes[path]) for path in chosen]


def download(spec: WeightSpec, files: Sequence[str], *, tqdm_class: Any = None) -> Path:
    """Fetch ``files`` of ``spec``'s repo into the Hugging Face cache, with the hub's progress bars.

    Raises:
        PullError: the download failed or was cut off; what was fetched is kept for the next try to resume.
    """
    from huggingface_hub import snapshot_download

    from vitron_agent.weights import hub_error_text

    try:
        folder = Path(snapshot_download(repo_id=spec.source, revision=_revision(spec), allow_patterns=list(files),
                                        cache_dir=hub_cache(), tqdm_class=tqdm_class))
    except Exception as error:
        raise PullError(f"{spec.name}: {hub_error_text(error, spec)}") from None
    missing = [path for path in files if not (folder / path).exists()]
    if missing:
        raise PullError(f"{spec.name}: {len(missing)} file(s) did not arrive ({', '.join(missing[:3])}); run "
                        f"vitron-agent pull {spec.name} again to resume")
    return folder


def _revision(spec: WeightSpec) -> str | None:
    revision = spec.extras.get("revision")
    return str(revision) if revision else None
