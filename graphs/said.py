"""What the plan node says, to whom: people read words; the planner also reads its raw output and the retry prompts.

- The conversation (the state's ``messages``, which Agent Chat UI, the page and the terminal show) gets the
  planner's words only, never Vitron markup or a call's JSON: the raw output rides in the message's
  ``additional_kwargs`` (:data:`RAW`), and the decision carries the invocation.
- An output that can't be used, and the prompt asking the planner to fix it, go to ``retry`` (their own channel):
  the planner reads them after the conversation on its next try, and they are cleared when the turn moves on, so
  no person ever reads a retry prompt or the planner's frame coordinates.

Usage::

    message = spoken(output)                                  # the AIMessage the conversation keeps
    update = retried(state, output, error)                    # the state update for one more try
    planner.plan([*state["messages"], *state.get("retry") or []], ...)
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from vitron_agent.invocation import parse_invocation

__all__ = ["CORRECTION", "RAW", "raw_text", "retried", "spoken"]

RAW = "vitron_output"
"""Where a planner's message keeps its raw output (Vitron text, or a ``{"name", "args"}`` call)."""
CORRECTION = "Your last output could not be used: {error}\nAnswer again, fixing that."


def raw_text(output: Any) -> str:
    """The planner's output as text, as the planner itself wrote it (a call as JSON)."""
    return output if isinstance(output, str) else json.dumps(output, default=str)


def spoken(output: Any) -> AIMessage:
    """The planner's output as the conversation shows it: its words (empty for a bare call)."""
    words = parse_invocation(output).response if isinstance(output, str) else ""
    return AIMessage(words, additional_kwargs={RAW: raw_text(output)})


def retried(state: Any, output: Any, error: str) -> list[Any]:
    """The retry channel after one more unusable output: the planner's own text and what to fix."""
    return [*(state.get("retry") or []), AIMessage(raw_text(output)), HumanMessage(CORRECTION.format(error=error))]
