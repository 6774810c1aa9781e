"""The plan node's first look at a new message: the pictures inside it become attachments, and the message keeps
only a small reference to each (see :mod:`vitron_agent.content_blocks`), before the planner or a checkpoint sees
it. A block that can't be used ends the turn with its sentence; the person's words stay in the thread.

Usage::

    update, state, refusal = take_in(state, store, limit)   # refusal: a sentence, or None
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import Attachment, CallInputs, Point
from vitron_agent.content_blocks import PICTURE_TYPES, BlockError, take_pictures, text_of
from vitron_agent.graphs.state import AgentState
from vitron_agent.regions import Box

__all__ = ["TAKEN", "inputs_of", "merged", "take_in"]

TAKEN = "vitron_attached"
"""The replaced message's mark (in ``additional_kwargs``): the artifacts its pictures became, taken once."""


def take_in(state: AgentState, store: ArtifactStore, limit: int) -> tuple[dict[str, Any], AgentState, str | None]:
    """The state update that replaces the latest human message's pictures by references and attaches them, the
    state as the planner should read it, and the sentence refusing a block (then the update keeps only the
    message's words)."""
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    if not isinstance(last, HumanMessage) or TAKEN in last.additional_kwargs or not _has_pictures(last.content):
        return {}, state, None
    try:
        taken = take_pictures(last.content, store, limit=limit)
    except BlockError as error:
        kept = HumanMessage(text_of(last.content), id=last.id)
        return {"messages": [kept]}, state, f"{str(error)[0].upper()}{str(error)[1:]}."
    message = HumanMessage(taken.content, id=last.id,
                           additional_kwargs={**last.additional_kwargs, TAKEN: [a.id for a in taken.attachments]})
    attachments = [*(state.get("attachments") or []),
                   *(Attachment.from_artifact(artifact).model_dump() for artifact in taken.attachments)]
    update = {"messages": [message], "attachments": attachments}
    return update, {**state, **update, "messages": [*messages[:-1], message]}, None


def merged(took: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A node's update after the intake's: both messages lists (the replaced message first), the node's other
    values winning."""
    if not took:
        return update
    return {**took, **update, "messages": [*took.get("messages", []), *update.get("messages", [])]}


def _has_pictures(content: Any) -> bool:
    return isinstance(content, list) and any(isinstance(block, dict) and block.get("type") in PICTURE_TYPES
                                             for block in content)


def inputs_of(state: AgentState) -> CallInputs:
    """What the person supplied beside their words, from the state: attachments, box, the box's frame, mask,
    clicks."""
    return CallInputs(
        attachments=tuple(Attachment.model_validate(a) for a in state.get("attachments") or []),
        region=Box.of(state["region"]) if state.get("region") else None,
        frame=state.get("frame", 0),
        mask=state.get("mask"),
        points=tuple(Point.model_validate(point) for point in state.get("points") or ()),
    )
