"""Planning with any LangChain chat model: the one people already run, local or hosted.

A model that can call tools gets the loaded tools as tools (each schema is the tool's own ``Args``, each
description its own, plugins included), so what it sends is validated exactly like Vitron's answers. A model that
cannot is asked for Vitron's text format instead, with the prompt in ``prompts/``. Attached images go in as
LangChain image content blocks when the model takes images (its profile says so, or ``images=True``); a video
goes in as its first frame. A provider's failure (timeout, rate limit, refusal, bad key) becomes an answer that
says what happened; the session goes on.

Usage::

    from langchain.chat_models import init_chat_model
    planner = ChatModelPlanner(init_chat_model("gpt-4o", model_provider="openai"), workspace="workspace")
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from vitron_agent.calls import Attachment
from vitron_agent.planners.base import AttachmentFiles

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from vitron_agent.regions import Box

__all__ = ["ChatModelPlanner", "prompt_text", "tool_schemas"]

PROVIDER_FAILED = "The chat model could not answer ({problem}: {detail}). Nothing was run; try again, or switch planner."
REFUSED = "The chat model declined to answer{why}. Nothing was run; rephrase the request, or switch planner."
PREVIEW_SIDE = 768
"""Images are scaled down to this long side before they are sent: enough to plan from, cheap to send."""


def prompt_text(name: str) -> str:
    """A prompt file from ``vitron_agent.prompts``."""
    return resources.files("vitron_agent.prompts").joinpath(name).read_text(encoding="utf-8")


def tool_schemas(tools: Any = None) -> list[dict[str, Any]]:
    """The tools as OpenAI-style tool schemas (the format ``bind_tools`` takes from every provider): each tool's
    ``Args`` schema and description, plugins included.

    Args:
        tools: tool classes or instances, as for the graph; by default the built-ins and installed plugins.

    The media arguments are optional here: left out, they mean the latest attachment of that kind.
    """
    from vitron_agent.tools import load_tools, tool_description

    schemas = []
    for tool in load_tools(tools).values():
        parameters = tool.Args.model_json_schema()
        parameters["required"] = [n for n in parameters.get("required", []) if n not in ("image", "video")]
        schemas.append({"type": "function", "function": {
            "name": tool.name, "description": tool_description(tool), "parameters": parameters}})
    return schemas


def _provider_problem(error: Exception) -> str:
    """What kind of failure a provider's exception is, in words (each SDK raises its own classes)."""
    status = getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)
    name = type(error).__name__.lower()
    if status in (401, 403) or "auth" in name or "permission" in name:
        return "the provider refused the credentials"
    if status == 429 or "ratelimit" in name:
        return "the provider's rate limit was reached"
    if isinstance(status, int) and status >= 500:
        return f"the provider had a server error ({status})"
    if isinstance(error, TimeoutError) or "timeout" in name:
        return "it did not answer in time"
    if isinstance(error, ConnectionError) or "connection" in name:
        return "the provider could not be reached"
    return "the provider reported an error"


class ChatModelPlanner:
    """Wraps a LangChain chat model as a planner.

    Args:
        model: any ``BaseChatModel``.
        workspace: where attachments are stored, for sending their pixels (None: no pixels are sent).
        use_tools: True to bind the tools, False for Vitron's text format, None to bind when the model supports
            it (``bind_tools`` implemented).
        images: send attached images as content blocks: True, False, or None to follow the model's profile.
        tools: the tools it is offered, as for the graph (by default the built-ins and installed plugins).
    """

    def __init__(self, model: BaseChatModel, *, workspace: str | os.PathLike[str] | None = None,
                 use_tools: bool | None = None, images: bool | None = None, tools: Any = None) -> None:
        self.model = model
        self.files = AttachmentFiles(workspace)
        self.bound = self._bind(model, tools) if use_tools is not False else None
        if use_tools and self.bound is None:
            raise ValueError(f"{type(model).__name__} does not support tool calling; use use_tools=None or False")
        profile = getattr(model, "profile", None) or {}
        self.images = bool(profile.get("image_inputs")) if images is None else images
        fmt = prompt_text("tool_format.md" if self.bound is not None else "vitron_format.md")
        self.system = prompt_text("planner_system.md").replace("{format}", fmt.strip())

    @staticmethod
    def _bind(model: BaseChatModel, tools: Any) -> Any:
        try:
            return model.bind_tools(tool_schemas(tools))
        except NotImplementedError:
            return None

    def plan(
        self, messages: Sequence[BaseMessage], attachments: Sequence[Attachment], region: Box | None
    ) -> str | dict[str, Any]:
        from langchain_core.messages import SystemMessage

        prompt = [SystemMessage(self.system), *messages[:-1], self._request(messages, attachments, region)]
        try:
            reply = (self.bound or self.model).invoke(prompt)
        except Exception as error:  # providers raise their own types: timeouts, 429s, auth, bad requests
            detail = " ".join(str(error).split())[:300] or "no detail"
            return PROVIDER_FAILED.format(problem=_provider_problem(error), detail=detail)
        return self._read(reply, attachments, region)

    # -- the request ---------------------------------------------------------------------------------------

    def _request(self, messages: Sequence[BaseMessage], attachments: Sequence[Attachment],
                 region: Box | None) -> BaseMessage:
        """The latest message, with the attachments listed (and shown, when the model takes images)."""
        from langchain_core.messages import HumanMessage

        text = messages[-1].text if messages else ""
        if not attachments:
            return HumanMessage(text + "\n\n(no media attached)")
        listed = "; ".join(f"{a.kind} {a.ref} ({a.width} x {a.height})" for a in attachments)
        context = f"\n\nAttached, latest last: {listed}."
        if region is not None:
            box = region.to_model_frame(attachments[-1].size)
            context += (f" The person drew a region: {[round(v) for v in region.as_tuple()]} in pixels, "
                        f"{[round(v) for v in box.as_tuple()]} in the 224 x 224 frame.")
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text + context}]
        if self.images:
            blocks.extend(self._image_block(a) for a in attachments[-2:])
        return HumanMessage(content=blocks)

    def _image_block(self, attachment: Attachment) -> dict[str, Any]:
        from vitron_agent.media import encode_image, load_frame, load_image

        if self.files.workspace is None:
            return {"type": "text", "text": f"({attachment.kind} {attachment.ref} not shown: no workspace)"}
        path = self.files.path(attachment)
        picture = load_image(path) if attachment.kind == "image" else load_frame(path, 0)
        picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        data = base64.b64encode(encode_image(picture.convert("RGB"), "JPEG", quality=85)).decode("ascii")
        return {"type": "image", "base64": data, "mime_type": "image/jpeg"}

    # -- the reply -----------------------------------------------------------------------------------------

    def _read(self, reply: Any, attachments: Sequence[Attachment], region: Box | None) -> str | dict[str, Any]:
        calls = getattr(reply, "tool_calls", None) or []
        if calls:  # media and region left out are filled by the graph (the latest so far; the person's box)
            return [{"name": call["name"], "args": dict(call.get("args") or {})} for call in calls]
        text = reply.text
        metadata = getattr(reply, "response_metadata", {}) or {}
        refusal = (getattr(reply, "additional_kwargs", {}) or {}).get("refusal")
        if refusal or metadata.get("finish_reason") in ("content_filter", "refusal") or \
                metadata.get("stop_reason") == "refusal":
            return REFUSED.format(why=f": {refusal}" if refusal else "")
        if not text.strip():
            return REFUSED.format(why=" (an empty reply)")
        return text


