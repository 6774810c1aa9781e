"""Results shown in the AI message, for programs that show a thread's messages and nothing else (Agent Chat UI, a
LangGraph SDK client): each picture a person should see comes twice, as a standard image content block and as a
markdown image in the text (Agent Chat UI renders text as markdown), both by a signed link that the LangGraph
server serves (:mod:`vitron_agent.links`, ``graphs/routes.py``). A video comes as a link, after its poster when the
step made one. Masks are shown through their previews. Only the served graph does this; the terminal and the page
show results themselves.

Usage::

    update = with_pictures(update, plan, store, links)    # the turn's last AI message, with its results
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage

from vitron_agent.artifacts import Artifact, ArtifactNotFound, ArtifactStore
from vitron_agent.graphs.plan import Plan
from vitron_agent.links import ArtifactLinks

__all__ = ["SHOWN_KINDS", "with_pictures"]

SHOWN_KINDS = ("image", "preview", "video")
"""What a person looks at; a mask is seen through its preview."""


def with_pictures(update: dict[str, Any], plan: Plan, store: ArtifactStore,
                  links: ArtifactLinks | None) -> dict[str, Any]:
    """``update`` with the turn's closing AI message carrying the plan's results, when the turn ends here and
    links are on."""
    messages = update.get("messages") or []
    if links is None or update.get("step") != "__end__" or not messages or not isinstance(messages[-1], AIMessage):
        return update
    shown = [artifact for artifact in _results(plan, store) if artifact.kind in SHOWN_KINDS]
    if not shown:
        return update
    text = str(messages[-1].content)
    blocks: list[dict[str, Any]] = []
    lines = [text] if text else []
    for artifact in shown:
        url = links.url(artifact)
        if artifact.kind == "video":
            lines.append(f"[video {artifact.id}]({url})")
            blocks.append({"type": "video", "url": url, "mime_type": artifact.media_type})
        else:
            lines.append(f"![{artifact.kind} {artifact.id}]({url})")
            blocks.append({"type": "image", "url": url, "mime_type": artifact.media_type})
    said = AIMessage([{"type": "text", "text": "\n\n".join(lines)}, *blocks], id=messages[-1].id,
                     additional_kwargs=messages[-1].additional_kwargs)
    return {**update, "messages": [*messages[:-1], said]}


def _results(plan: Plan, store: ArtifactStore) -> list[Artifact]:
    found = []
    for step in plan.steps:
        made = [step.chosen] if step.chosen else step.artifacts  # of candidates, the one chosen
        for ref in made if step.status == "done" else []:
            try:
                found.append(store.get(ref))
            except ArtifactNotFound:
                continue
    return found
