"""What the page shows, read from a session: the conversation with its results inline, the decision card, the
plan's steps, the candidates, the decision log, the lineage. Plain values (Markdown, rows, Chatbot messages in
the messages format), so the layout in :mod:`vitron_agent.web.page` only places them.

The conversation is read from the thread itself (its messages, and the decision log for each finished step's
results), not kept per tab: two tabs on a thread, a reload, and a thread reopened from the terminal all show the
same thing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from vitron_agent.artifacts import Artifact, ArtifactNotFound, ArtifactStore
from vitron_agent.choices import Choice
from vitron_agent.content_blocks import text_of
from vitron_agent.decisions import Decision, LogEntry
from vitron_agent.session import Session
from vitron_agent.ui import HISTORY_COLUMNS, artifact_line, history_row

__all__ = ["HISTORY_COLUMNS", "PLAN_COLUMNS", "SHOWN_KINDS", "as_text", "card_markdown", "choice_markdown", "conversation", "lineage_markdown",
           "log_rows", "plan_rows", "results", "thread_title", "with_notes"]

SHOWN_KINDS = ("image", "video", "preview")
"""What appears inline: pictures, clips, and a segmentation's overlay (the mask tinted on its image) instead of
the bare mask."""
_TAGS = re.compile(r"<module>.*", re.DOTALL)
PLAN_COLUMNS = ["#", "tool", "what", "status", "asking"]
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def as_text(text: str) -> str:
    """Text a person or a planner wrote, for a Markdown view, shown as the very characters it holds: no HTML
    element (an ``<img src=...>`` in a target) and no Markdown (a link, an image) comes alive on the page."""
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def conversation(session: Session, entries: Sequence[LogEntry]) -> list[dict[str, Any]]:
    """The thread as Chatbot messages: the person's requests, the replies in words (the planner's tags left out),
    and each finished step's results (from ``entries``, the thread's decision log) after the reply that reports
    it."""
    values = session.agent.get_state(session.config).values
    finished = [entry for entry in entries if entry.outcome == "ok" and entry.artifacts and not entry.undone]
    messages: list[dict[str, Any]] = []
    for message in values.get("messages") or []:
        if isinstance(message, HumanMessage):
            messages.append({"role": "user", "content": as_text(text_of(message.content))})
        elif isinstance(message, AIMessage):
            text = _said(str(message.content))
            if text:
                messages.append({"role": "assistant", "content": as_text(text)})
            reported = [entry for entry in finished if entry.message and entry.message in str(message.content)]
            messages += _media_messages(session.store, reported)
            finished = [entry for entry in finished if entry not in reported]
    messages += _media_messages(session.store, finished)  # made, not reported yet (a choice waits)
    return messages


def with_notes(messages: list[dict[str, Any]], notes: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    """The conversation with a tab's own sentences (a refused upload, say) where they were said: each note after
    the number of thread messages there were then."""
    merged: list[dict[str, Any]] = []
    waiting = sorted(notes)
    for index, message in enumerate(messages):
        while waiting and waiting[0][0] <= index:
            merged.append({"role": "assistant", "content": as_text(waiting.pop(0)[1])})
        merged.append(message)
    return merged + [{"role": "assistant", "content": as_text(text)} for _, text in waiting]


def _said(text: str) -> str:
    """A reply in words: the planner's own text before its first tag; its typed calls are shown as decisions."""
    if text.startswith(("call {", "call [")):
        return ""
    return _TAGS.sub("", text).strip()


def _media_messages(store: ArtifactStore, entries: Sequence[LogEntry]) -> list[dict[str, Any]]:
    shown = []
    for entry in entries:
        for artifact in _found(store, entry.artifacts):
            path = shown_file(store, artifact) if artifact.kind in SHOWN_KINDS else None
            if path is not None:
                shown.append({"role": "assistant", "content": {"path": path,
                                                                "alt_text": f"{artifact.kind} {artifact.id}"}})
    return shown


def shown_file(store: ArtifactStore, artifact: Artifact | str | None) -> str | None:
    """The file the page shows for an artifact: its checked copy on this machine (fetched from object storage
    when the store is shared), or None when it can't be had; a picture missing from a screen never stops it."""
    path = store.local_path_if_any(artifact)
    return str(path) if path is not None else None


def _found(store: ArtifactStore, ids: Sequence[str]) -> list[Artifact]:
    found = []
    for artifact_id in ids:
        try:
            found.append(store.get(artifact_id))
        except ArtifactNotFound:
            continue
    return found


def card_markdown(decision: Decision) -> str:
    """The decision card's text: for each asking step its tool and module, summary, what it runs on, whether it
    can run here, its notes; then why the last answer was refused, if it was."""
    lines = []
    if len(decision.steps) > 1:
        asking = ", ".join(str(number) for number in decision.asking)
        lines.append(f"**A plan of {len(decision.steps)} steps**; asking about step(s) {asking}.")
    if decision.response:
        lines.append(f"> {as_text(decision.response)}")
    for step in (decision.steps[number - 1] for number in decision.asking):
        module = f" · module {step.module} ({step.module_name})" if step.module else ""
        lines.append(f"### {step.tool}{module}")
        lines.append(as_text(step.summary))
        if step.backend:
            lines.append(f"- **runs on:** {as_text(step.backend)}")
        lines.append(f"- **here:** {as_text(step.readiness.line(step.tool) or 'ready to run')}")
        lines += [f"- **note:** {as_text(note)}" for note in step.notes]
        if step.changed:
            lines.append(f"- **edited:** {as_text(', '.join(step.changed))}")
    if decision.error:
        lines.append(f"**Not applied:** {as_text(decision.error)}")
    return "\n\n".join(lines)


def plan_rows(decision: Decision) -> list[list[Any]]:
    """The plan as table rows (:data:`PLAN_COLUMNS`)."""
    return [[step.number, step.tool, step.summary, step.status, "yes" if step.number in decision.asking else ""]
            for step in decision.steps]


def choice_markdown(choice: Choice) -> str:
    """Above the candidates gallery: what made them and how to choose."""
    return (f"### {len(choice.candidates)} candidates from {choice.tool}\n\nClick one to choose it: it becomes the "
            "current picture and the plan goes on. " + (f"**{choice.error}**" if choice.error else ""))


def results(session: Session) -> list[Artifact]:
    """The thread's pictures and clips (attachments and results), newest first, for carrying on from any."""
    return [artifact for artifact in reversed(session.artifacts()) if artifact.kind in ("image", "video")]


def lineage_markdown(store: ArtifactStore, artifact: Artifact) -> str:
    """Where a result came from: the result, then each parent indented below its child."""
    lines, seen = [], {artifact.id}

    def grow(item: Artifact, depth: int) -> None:
        for parent in _found(store, item.parents):
            if parent.id in seen:
                lines.append(f"{'  ' * depth}- {parent.kind} {parent.id} (above)")
                continue
            seen.add(parent.id)
            lines.append(f"{'  ' * depth}- {artifact_line(parent)}")
            grow(parent, depth + 1)

    lines.append(f"- {artifact_line(artifact)}")
    grow(artifact, 1)
    return "\n".join(lines)


def log_rows(entries: Sequence[LogEntry]) -> list[list[str]]:
    """The thread's decision log, as the terminal's ``/history`` rows."""
    return [history_row(number, entry) for number, entry in enumerate(entries, start=1)]


def thread_title(session: Session, thread: str) -> str:
    """A thread as the list names it: its first request, and its id."""
    values = session.agent.get_state({"configurable": {"thread_id": thread}}).values
    first = next((str(m.content) for m in values.get("messages") or [] if isinstance(m, HumanMessage)), "")
    first = first if len(first) <= 48 else first[:45] + "..."
    return f"{first or '(no request yet)'} · {thread[:8]}"
