"""The creative loop's pieces that are not graph nodes: a variation of an earlier result, a person's sketch as a
mask, and the words for taking up an old result again.

:class:`~vitron_agent.session.Session` (``vary``, ``sketch``, ``use``) and the terminal (``/vary``, ``/sketch``,
``/use``) call these; choosing among candidates is the graph's own node (:mod:`vitron_agent.graphs.choose`).

Usage::

    call = variation(store.get(chosen_id))        # {"name": "generate_image", "args": {..., "seed": 11}}
    mask, note = sketch_mask(store, "drawn.png", current)   # a mask artifact the size of the current image
"""

from __future__ import annotations

import os
from typing import Any

from vitron_agent.artifacts import Artifact, ArtifactStore
from vitron_agent.calls import Attachment

__all__ = ["carried_on", "sketch_mask", "variation"]


def variation(source: Artifact) -> dict[str, Any]:
    """The call that made ``source``, again with new seeds: the same arguments and number of candidates, seeds
    starting just after the ones its run used (a run of 4 from seed 7 used 7 to 10; its variation uses 11 to 14).

    Raises:
        ValueError: ``source`` was not made by a call that takes a seed (an attached photo, a mask).
    """
    call = source.call or {}
    tool, args = call.get("tool"), dict(call.get("args") or {})
    if not tool:
        raise ValueError(f"{source.id} was attached, not made by a tool, so there is no call to vary")
    if "seed" not in args:
        raise ValueError(f"{source.id} was made by {tool}, which takes no seed, so there is nothing to vary")
    count = int(args.get("candidates") or 1)
    number = int(source.meta.get("candidate") or 1)
    first = source.seed - (number - 1) if source.seed is not None else None
    args["seed"] = first + count if first is not None else None
    return {"name": tool, "args": args}


def sketch_mask(store: ArtifactStore, path: str | os.PathLike[str], current: Attachment) -> tuple[Artifact, str | None]:
    """A black-and-white picture the person drew (white: the area to change), stored as a mask of the current
    image or video's size; one of another size is scaled, and the note says so.

    Raises:
        PathOutsideWorkspace, MediaError: the file can't be imported.
        ValueError: it is not a still image, or it is empty (no white).
    """
    from vitron_agent.tools.backends.segmentation import mask_png, read_mask

    drawn = store.import_file(path, grant=True)
    if drawn.kind != "image":
        raise ValueError(f"{os.fspath(path)} is {drawn.kind_text}; a sketch is a black-and-white PNG")
    mask, note = read_mask(store.local_path(drawn), current.size)
    width, height = current.size
    stored = store.add(mask_png(mask), kind="mask", suffix=".png", parents=[drawn.id],
                       meta={"width": width, "height": height, "sketch": True, "for": current.ref})
    return stored, note


def carried_on(artifact: Artifact) -> str:
    """What the conversation says when an old result becomes the current input again."""
    call = artifact.call or {}
    made = f", made by {call['tool']}" + (f" with seed {artifact.seed}" if artifact.seed is not None else "") \
        if call.get("tool") else ""
    return f"Carrying on from {artifact.kind} {artifact.id}{made}: the next request works on it."
