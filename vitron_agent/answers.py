"""The person's answers to a decision, typed, bounded and bound to the decision they were shown.

- Ours: :class:`Approve`, :class:`Edit`, :class:`Remove`, :class:`Reject`, :class:`Cancel`; LangChain's
  ``{"decisions": [...]}``; both read by :func:`read_answer`.
- The binding: an answer may carry the ``fingerprint`` of the decision its person saw
  (:attr:`~vitron_agent.decisions.Decision.fingerprint`); the review refuses it when what waits differs. A bare
  answer (a plain LangChain client) is bound to the decision waiting in the checkpoint it resumes. ``by`` names
  who answered, for the decision log.
- The bounds: what a person types in an answer (a correction, an edit's arguments, who they are) is held to the
  workspace's ``[limits] request_bytes`` before it reaches the planner or a checkpoint (:func:`answer_too_long`).

Usage::

    answer = bound({"action": "approve"}, decision.fingerprint, by="ana")
    agent.invoke(Command(resume=answer), config)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

if TYPE_CHECKING:
    from vitron_agent.decisions import Decision

__all__ = [
    "Answer",
    "AnswerError",
    "Approve",
    "Cancel",
    "Edit",
    "Reject",
    "Remove",
    "answer_too_long",
    "answered_by",
    "bound",
    "read_answer",
    "seen_fingerprint",
]

BY_LIMIT = 80
"""The longest name kept for who answered (a login, "mcp client"); longer ones are cut."""


class Approve(BaseModel):
    """Run the asking steps as shown (a failed step: try it again)."""

    action: Literal["approve"] = "approve"


class Edit(BaseModel):
    """Change a step's arguments (by default the first asking one); the decision is validated and shown again.
    ``replace`` takes ``args`` as the whole argument list (a LangChain edit) instead of the changes."""

    action: Literal["edit"] = "edit"
    args: dict[str, Any]
    step: int | None = None
    replace: bool = False


class Remove(BaseModel):
    """Take a step out of the plan (refused while a later step uses its output)."""

    action: Literal["remove"] = "remove"
    step: int


class Reject(BaseModel):
    """Refuse the plan and tell the planner what was wrong; it plans again."""

    action: Literal["reject"] = "reject"
    feedback: str = ""


class Cancel(BaseModel):
    """Drop the plan: nothing more runs and the planner is not asked again."""

    action: Literal["cancel"] = "cancel"


Answer = Annotated[Union[Approve, Edit, Remove, Reject, Cancel], Field(discriminator="action")]  # noqa: UP007
_ANSWER: TypeAdapter[Any] = TypeAdapter(Answer)
_BINDING = ("fingerprint", "by")
"""Keys an answer may carry beside what it says: the decision it answers and who gave it."""


class AnswerError(ValueError):
    """An answer that cannot be applied; the message is shown with the decision, and nothing runs."""


def bound(answer: Any, fingerprint: str | None, *, by: str | None = None) -> Any:
    """``answer`` (a word or a mapping) bound to the decision with ``fingerprint``, and naming who gave it."""
    given = {"action": answer} if isinstance(answer, str) else dict(answer)
    if fingerprint:
        given["fingerprint"] = fingerprint
    if by:
        given["by"] = by
    return given


def seen_fingerprint(answer: Any) -> str | None:
    """The fingerprint of the decision the answer's person saw, when it carries one.

    Raises:
        AnswerError: a fingerprint that is not a short string.
    """
    if not isinstance(answer, Mapping) or answer.get("fingerprint") is None:
        return None
    seen = answer["fingerprint"]
    if not isinstance(seen, str) or not 1 <= len(seen) <= 64:
        raise AnswerError("the answer's fingerprint must be the one shown with the decision (a short string)")
    return seen


def answered_by(answer: Any, default: str = "person") -> str:
    """Who gave the answer, as it says (cut to a name's length), else ``default``."""
    given = answer.get("by") if isinstance(answer, Mapping) else None
    if not isinstance(given, str) or not given.strip():
        return default
    return " ".join(given.split())[:BY_LIMIT]


def answer_too_long(answer: Any, limit: int) -> str | None:
    """Why an answer is over the workspace's limit for what a person types (a correction, an edit's arguments),
    or None when it fits."""
    size = len(json.dumps(answer, default=str).encode())
    if size <= limit:
        return None
    return (f"that answer is {_size(size)}, over the {_size(limit)} this workspace takes from a person (a "
            "correction or an edit); say it in fewer words ([limits] request_bytes in vitron.toml sets the limit)")


def read_answer(answer: Any, decision: Decision) -> list[Approve | Edit | Remove | Reject | Cancel]:
    """The person's answer as typed answers: ``"approve"`` or ``"cancel"``, one of ours as a mapping
    (``{"action": "edit", "args": {...}, "step": 2}``), or LangChain's ``{"decisions": [...]}`` with one
    decision per asking step, in order; a mapping may also carry ``fingerprint`` and ``by``.

    Raises:
        AnswerError: what is wrong with it, in a sentence (a wrong count, an unknown type, an edit of another
            tool, a malformed answer).
    """
    if isinstance(answer, str):
        word = answer.strip().lower()
        if word in ("approve", "cancel"):
            return [_ANSWER.validate_python({"action": word})]
        raise AnswerError(f"{answer[:40]!r} is not an answer here; use approve, edit, remove, reject or cancel")
    if isinstance(answer, Mapping) and "decisions" in answer:
        return _langchain_answers(answer["decisions"], decision)
    if isinstance(answer, Mapping):
        said = {key: value for key, value in answer.items() if key not in _BINDING}
        if not said:
            raise AnswerError("the answer says nothing; use approve, edit, remove, reject or cancel")
        try:
            return [_ANSWER.validate_python(said)]
        except ValidationError as error:
            raise AnswerError(_answer_problem(error)) from None
    raise AnswerError("an answer is approve, edit, remove, reject or cancel, or LangChain's {\"decisions\": [...]}")


def _langchain_answers(decisions: Any, decision: Decision) -> list[Approve | Edit | Remove | Reject | Cancel]:
    """LangChain's human-in-the-loop decisions, one per asking step, as ours."""
    if not isinstance(decisions, list) or len(decisions) != len(decision.asking):
        count = len(decisions) if isinstance(decisions, list) else "no list of"
        raise AnswerError(f"the answer has {count} decisions for {len(decision.asking)} action(s); send one per "
                          "action, in the order of action_requests")
    answers: list[Approve | Edit | Remove | Reject | Cancel] = []
    for number, given in zip(decision.asking, decisions):
        step = decision.steps[number - 1]
        kind = given.get("type") if isinstance(given, Mapping) else None
        if kind == "approve":
            answers.append(Approve())
        elif kind == "reject":
            answers.append(Reject(feedback=str(given.get("message") or "")))
        elif kind == "edit":
            edited = given.get("edited_action")
            if not isinstance(edited, Mapping) or not isinstance(edited.get("args"), Mapping):
                raise AnswerError(f"the edit of step {number} needs edited_action with name and args")
            if edited.get("name") != step.tool:
                raise AnswerError(f"the edit of step {number} must keep its tool {step.tool}, not "
                                  f"{str(edited.get('name'))[:40]!r}; reject it with a message to ask for another "
                                  "tool")
            answers.append(Edit(args=dict(edited["args"]), step=number, replace=True))
        else:
            raise AnswerError(f"unknown decision type {str(kind)[:40]!r} for step {number}; use approve, edit or "
                              "reject")
    return answers


def _answer_problem(error: ValidationError) -> str:
    lines = [f"{'.'.join(map(str, item['loc'])) or 'answer'}: {item['msg']}" for item in error.errors()[:3]]
    return "that answer cannot be read (" + "; ".join(lines) + "); use approve, edit, remove, reject or cancel"


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{max(1, round(count / 1024))} KiB"
