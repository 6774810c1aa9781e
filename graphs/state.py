"""The agent graph's state: plain JSON-able values, so any LangGraph checkpointer can keep it.

``messages`` is the conversation the planner reads (LangChain messages, merged by ``add_messages``);
``decisions`` and ``artifacts`` only ever grow; ``attachments`` is the media in play, latest last. ``plan`` is
the turn's validated plan (a :class:`~vitron_agent.graphs.plan.Plan` dump: steps with their status, approval and
artifacts), kept after the turn for ``/plan`` and undo; ``step`` names the node to run next, so a router reads one field and ``update_state`` can
redirect a thread (the session uses that to re-offer a step that was cut off by a crash, and to undo or fork).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

__all__ = ["AgentState", "Step", "closing"]

Step = Literal["plan", "review", "execute", "choose", "report", "__end__"]


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    attachments: list[dict[str, Any]]
    """:class:`~vitron_agent.calls.Attachment` dumps, latest last: the media in play, what the person attached
    and what tools made (or the person chose, or took up again); the latest of a kind is what the next request
    works on"""
    region: list[float] | None
    """the person's box in pixels of the latest attachment"""
    mask: str | None
    """a mask artifact the person gave with the request (a sketch, or a segmentation), as the area to change"""
    points: list[dict[str, Any]] | None
    """the person's clicks on the latest image (:class:`~vitron_agent.calls.Point` dumps)"""
    proposed: list[dict[str, Any]] | None
    """calls the person proposed directly (``{"name", "args"}``, say a variation of an earlier result): planned
    without asking the planner"""
    frame: int
    output: Any
    """the planner's last output: Vitron text or a ``{"name", "args"}`` call"""
    plan: dict[str, Any] | None
    """the plan under review or execution, or the last one, finished"""
    corrections: int
    """invalid planner outputs in a row this turn"""
    retry: list[AnyMessage]
    """this turn's unusable planner outputs and the prompts to fix them, which only the planner reads (see
    :mod:`vitron_agent.graphs.said`); cleared when the turn moves on"""
    step: Step
    answer: str | None
    """the text this turn ends with"""
    asked: dict[str, Any] | None
    """the decision fixed to be asked (its fingerprint, asking steps, policy name and showing number): once fixed,
    a change of policy no longer touches it (see :mod:`vitron_agent.graphs.review_node`)"""
    shown_before: dict[str, Any] | None
    """the showing before an edit or removal (a Decision dump), to say what changed to an answer given to it"""
    decisions: Annotated[list[dict[str, Any]], operator.add]
    artifacts: Annotated[list[str], operator.add]


def closing(answer: str, said: list[Any] | None = None, **update: Any) -> dict[str, Any]:
    """End the turn from the node that knows it is over: the answer joins the conversation (after what the planner
    said, if given) and the graph goes to its end, without a further node run."""
    from langchain_core.messages import AIMessage

    reply = [AIMessage(answer)] if answer else []
    return {**update, "answer": answer, "messages": [*(said or []), *reply], "output": None, "step": "__end__"}
