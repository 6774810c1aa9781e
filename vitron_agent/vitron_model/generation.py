"""One answer from Vitron's model: media through the towers, the prompt embedded, text generated and streamed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from vitron_agent.vitron_model.loading import VitronBundle
from vitron_agent.vitron_model.processing import (
    STOP,
    Turn,
    conversation_prompt,
    preprocess_image,
    preprocess_video,
    tokenize,
    user_turn,
)

__all__ = ["Answer", "generate_answer"]


class Answer(str):
    """The generated text; ``.region_reached`` says whether the region feature was spliced into the prompt."""

    region_reached: bool = False
    new_tokens: int = 0


def _streamer(tokenizer: Any, on_text: Callable[[str], None]) -> Any:
    from transformers import TextStreamer

    class _Callback(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                on_text(text)

    return _Callback(tokenizer, skip_prompt=True, skip_special_tokens=True)


@torch.inference_mode()
def generate_answer(
    bundle: VitronBundle,
    history: Sequence[Turn],
    text: str,
    *,
    image: Image.Image | None = None,
    video: np.ndarray | None = None,
    region: Sequence[float] | None = None,
    on_text: Callable[[str], None] | None = None,
    max_new_tokens: int = 512,
    temperature: float = 0.0,
) -> Answer:
    """Answer ``text`` after ``history``, seeing ``image`` (PIL) and/or ``video`` ((N, H, W, 3) uint8 frames).

    Args:
        region: a box in the 224 x 224 model frame on ``image`` (the person's region, already scaled).
        on_text: called with each piece of text as it is generated.
        temperature: 0 decodes greedily (the same answer every time); Vitron's demo samples at 0.2.
    """
    llm, config = bundle.llm, bundle.config
    frames = bundle.video_tower.frames if video is not None and bundle.video_tower is not None else 0
    use_image = image is not None and bundle.image_tower is not None
    use_region = use_image and region is not None
    turns = [*history, Turn(user_turn(text, video_frames=frames, image=use_image, region=use_region))]
    ids = tokenize(conversation_prompt(turns), bundle.tokenizer)
    select = getattr(config, "mm_vision_select_layer", -2)
    media: list[torch.Tensor] = []
    regions: list[torch.Tensor | None] = []
    if frames:
        pixels = preprocess_video(video, frames)[None]  # 1 3 T H W
        projected = llm.project(bundle.video_tower(pixels, select))[0]  # T patches hidden
        media.extend(projected)
        regions.extend([None] * frames)
    if use_image:
        pad = getattr(config, "image_aspect_ratio", "pad") == "pad"
        features = bundle.image_tower(preprocess_image(image, pad=pad)[None], select)  # 1 patches C
        media.append(llm.project(features)[0])
        box = torch.tensor([list(region) if region is not None else [0.0, 0.0, 224.0, 224.0]])
        regions.append(llm.model.region_extractor(features.to(llm.dtype), box)[0])
    device = llm.get_input_embeddings().weight.device
    embeds = llm.embed(ids.to(device), media, regions)[None]
    streamer = _streamer(bundle.tokenizer, on_text) if on_text is not None else None
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.9} if temperature > 0 else \
        {"do_sample": False}
    output = llm.generate(
        inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long, device=device),
        max_new_tokens=max_new_tokens, streamer=streamer, stop_strings=[STOP], tokenizer=bundle.tokenizer,
        pad_token_id=bundle.tokenizer.pad_token_id or bundle.tokenizer.eos_token_id, **sampling,
    )
    text_out = bundle.tokenizer.decode(output[0], skip_special_tokens=True).split(STOP)[0].strip()
    answer = Answer(text_out)
    answer.region_reached = use_region and bool((ids == -300).any())
    answer.new_tokens = int(output.shape[1])
    return answer
