"""The Vitron checkpoint as the planner: our port of its model (:mod:`vitron_agent.vitron_model`) in the graph.

Chosen by configuration (``--planner vitron:Vitron/vitron-lora``, ``VITRON_PLANNER``, or ``[planner] spec`` in
``vitron.toml``); the release and its parts resolve like every other weight, so each can point at a local copy:

    [weights.vitron_base]                 # the base model folder (default: the adapter's recorded base if it
    source = "/models/vitron-base"        # exists locally, else Vitron/vitron-base)
    [weights.languagebind_image]          # the towers (default: the names in the release's config.json)
    source = "/models/LanguageBind_Image"
    [weights.languagebind_video]
    source = "/models/LanguageBind_Video_merge"
    [planner]
    quantize = "4bit"                     # or "8bit": needs bitsandbytes and a CUDA GPU

The model loads once through the model manager (fp16 on a GPU, fp32 on the CPU) and stays while it is used.
Each plan shows the model the latest attached image (with the person's region scaled into the 224 x 224 frame)
or video, and the last few exchanges as text; the answer streams to the graph's custom stream as
``{"planner_text": piece}`` and goes back as Vitron text, parsed like any planner's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vitron_agent.calls import latest_attachment
from vitron_agent.planners.base import AttachmentFiles
from vitron_agent.weights import WeightSpec, fetch, settings, weight_spec

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from vitron_agent.calls import Attachment
    from vitron_agent.models import ModelManager
    from vitron_agent.regions import Box
    from vitron_agent.workspace import Workspace

__all__ = ["DEFAULT_BASE", "RayVitronPlanner", "VitronPlanner"]

DEFAULT_BASE = "Vitron/vitron-base"
HISTORY_TURNS = 4
"""Earlier exchanges kept in the prompt: enough for follow-ups, short enough for the 2,048-token context."""


class VitronPlanner:
    """Plans with Vitron's own model.

    Args:
        source: the release's LoRA folder or hub id (``Vitron/vitron-lora``), or a merged model folder.
        workspace: the open workspace (or its folder): where attachments are stored and ``vitron.toml`` is read.
        models: the model manager to load through (the workspace's when open, else a new one).
        max_new_tokens, temperature: generation settings (0 decodes greedily).
        quantize: "4bit", "8bit" or None (default: ``[planner] quantize`` or ``VITRON_QUANTIZE``).
        on_text: called with each piece of generated text (default: the LangGraph custom stream, when planning
            inside a graph).
    """

    def __init__(self, source: str, *, workspace: Workspace | str | os.PathLike[str] | None = None,
                 models: ModelManager | None = None, max_new_tokens: int = 512, temperature: float = 0.0,
                 quantize: str | None = None, on_text: Callable[[str], None] | None = None) -> None:
        from vitron_agent.workspace import Workspace, root_of

        self.source = source
        self.workspace = root_of(workspace)
        self.files = AttachmentFiles(workspace)
        self._models = models or (workspace.models if isinstance(workspace, Workspace) else None)
        self._lora: Path | None = None
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        section = settings(self.workspace).get("planner", {})
        self.quantize = quantize or os.environ.get("VITRON_QUANTIZE") or section.get("quantize")
        if self.quantize not in (None, "4bit", "8bit"):
            raise ValueError(f"quantize must be 4bit or 8bit, not {self.quantize!r}")
        self.on_text = on_text
        self.last_answer: Any = None

    @property
    def models(self) -> ModelManager:
        if self._models is None:
            from vitron_agent.models import ModelManager

            self._models = ModelManager()
        return self._models

    # -- planning ------------------------------------------------------------------------------------------

    def plan(
        self, messages: Sequence[BaseMessage], attachments: Sequence[Attachment], region: Box | None
    ) -> str:
        from vitron_agent.vitron_model.generation import generate_answer

        bundle = self.load()
        history, text = _history(messages)
        image = video = None
        box = None
        latest_image = latest_attachment(attachments, "image")
        latest_video = latest_attachment(attachments, "video")
        if latest_image is not None:
            from vitron_agent.media import load_image

            image = load_image(self.files.path(latest_image))
            if region is not None and attachments[-1] is latest_image:
                box = region.clipped(latest_image.size)[0].to_model_frame(latest_image.size).as_tuple()
        if latest_video is not None:
            from vitron_agent.media import load_video

            video = load_video(self.files.path(latest_video)).frames
        answer = generate_answer(bundle, history, text, image=image, video=video, region=box,
                                 on_text=self.on_text or _graph_stream(), max_new_tokens=self.max_new_tokens,
                                 temperature=self.temperature)
        self.last_answer = answer
        return str(answer)

    def load(self) -> Any:
        """The loaded release (a :class:`~vitron_agent.vitron_model.loading.VitronBundle`), loading it once."""
        if self._lora is None:  # resolved once: a hub id would otherwise ask the hub again on every plan
            self._lora = fetch(WeightSpec("vitron", self.source), None, workspace=self.workspace)
        lora = self._lora
        device = self.models.device
        dtype = "float16" if device.startswith("cuda") else "float32"

        def load(device: str, dtype: str) -> Any:
            import torch

            from vitron_agent.vitron_model.loading import load_release, read_adapter_base

            recorded = read_adapter_base(lora)
            default = recorded if recorded and Path(recorded).exists() else DEFAULT_BASE
            base = None
            if (lora / "adapter_config.json").is_file():
                base = fetch(weight_spec("vitron_base", default, self.workspace), None, workspace=self.workspace)
            return load_release(lora, base, device=device, dtype=getattr(torch, dtype),
                                quantization=self._quantization(device), tower_path=self._tower)

        return self.models.get(f"vitron:{lora}:{self.quantize or dtype}", load, dtype=dtype)

    def _tower(self, name: str) -> Path:
        family = "languagebind_video" if "video" in name.lower() else "languagebind_image"
        return fetch(weight_spec(family, name, self.workspace), None, workspace=self.workspace)

    def _quantization(self, device: str) -> Any:
        if self.quantize is None:
            return None
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None or not device.startswith("cuda"):
            raise ValueError(f"quantize={self.quantize} needs the bitsandbytes package and a CUDA GPU; "
                             "install bitsandbytes, or leave quantize unset for fp16")
        import torch
        from transformers import BitsAndBytesConfig

        if self.quantize == "8bit":
            return BitsAndBytesConfig(load_in_8bit=True)
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.float16,
                                  bnb_4bit_use_double_quant=True, bnb_4bit_quant_type="nf4")


class RayVitronPlanner(VitronPlanner):
    """The Vitron planner whose model runs on the ``vitron`` Ray Serve deployment (``[execution] backend =
    "ray"``): each turn ships the conversation and the latest image and video it looks at (as a tool call's inputs
    go), and the answer's text streams back to the graph as it is generated.

    Args:
        workspace: the open workspace, whose runner joins the cluster. The rest: as :class:`VitronPlanner`.
    """

    def __init__(self, source: str, *, workspace: Workspace, **options: Any) -> None:
        super().__init__(source, workspace=workspace, **options)
        self.store, self.runner = workspace.store, workspace.runner

    def plan(
        self, messages: Sequence[BaseMessage], attachments: Sequence[Attachment], region: Box | None
    ) -> str:
        from vitron_agent.shipping import PlanRequest, shipped, tool_settings

        store, blobs = self.store, self.runner.blobs
        looked_at = [latest_attachment(attachments, kind) for kind in ("image", "video")]
        inputs = [shipped(store, store.get(item.ref), with_data=blobs is None) for item in looked_at if item]
        request = PlanRequest(source=self.source, messages=list(messages), attachments=list(attachments),
                              region=region, inputs=inputs, settings=tool_settings(store.root), blobs=blobs,
                              max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                              quantize=self.quantize)
        self.last_answer = self.runner.plan(request, on_text=self.on_text or _graph_stream())
        return self.last_answer


def _history(messages: Sequence[BaseMessage]) -> tuple[list[Any], str]:
    """Earlier (person, answer) pairs as text turns, and the latest thing said to the model."""
    from vitron_agent.vitron_model.processing import Turn

    turns: list[Turn] = []
    pending: str | None = None
    for message in messages[:-1]:
        if message.type == "human":
            pending = message.text if pending is None else pending + "\n" + message.text
        elif message.type == "ai" and pending is not None:  # what the model wrote, markup and all
            turns.append(Turn(pending, message.additional_kwargs.get("vitron_output") or message.text))
            pending = None
    latest = messages[-1].text if messages else ""
    if pending is not None:
        latest = pending + "\n" + latest
    return turns[-HISTORY_TURNS:], latest


def _graph_stream() -> Callable[[str], None] | None:
    """Generated text to the LangGraph custom stream, when planning inside a graph run."""
    try:
        from langgraph.config import get_stream_writer

        writer = get_stream_writer()
    except Exception:  # not inside a graph run
        return None
    return lambda piece: writer({"planner_text": piece})
