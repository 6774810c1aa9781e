"""Vitron's inputs: the ``llava_v1`` conversation, placeholder tokens, image and video preprocessing, and boxes.

Everything here reproduces what Vitron's model saw in training and in its demo, quirks included, since a model
answers best to the inputs it was trained on:

* the system prompt is Vitron's, character for character (including the missing space before "The assistant");
* a turn is ``USER: <media>\\n<objs> text ASSISTANT:``; a video is eight ``<image>`` tokens (one per frame)
  joined by spaces; ``<objs>`` (the person's region) follows the image on its own line;
* each piece of text between placeholders is tokenized on its own; the first keeps its BOS token, the pieces
  after an ``<image>`` of the first part lose theirs, and the pieces after ``<objs>`` keep theirs, as Vitron's
  ``tokenizer_image_region_token`` does;
* images are padded to a square with the CLIP mean colour when the config says ``image_aspect_ratio = "pad"``,
  then resized (short side 224, bicubic), centre-cropped and normalised with OpenAI CLIP's mean and std;
* videos: eight frames sampled evenly from first to last, scaled to 0..1, normalised, short side to 224
  (bilinear), centre-cropped. Vitron's transform also flips clips at random at inference time; that is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vitron_agent.vitron_model.modeling import IMAGE_TOKEN_INDEX, MODEL_FRAME, OBJS_TOKEN_INDEX

__all__ = ["CLIP_MEAN", "CLIP_STD", "STOP", "SYSTEM", "Turn", "conversation_prompt", "preprocess_image",
           "preprocess_video", "sample_frames", "tokenize", "user_turn"]

SYSTEM = (
    "A chat between a curious human and an artificial intelligence assistant. The assistant is so powerful and "
    "can not only understand text, image and video, but also able to generate text, images and videos.The "
    "assistant gives helpful, detailed, and polite answers to the human's questions."
)
ROLES = ("USER", "ASSISTANT")
STOP = "</s>"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE, VIDEO_FRAME, OBJS = "<image>", "<image>", "<objs>"


@dataclass(frozen=True)
class Turn:
    """One exchange for the prompt: what the user said (with placeholders) and the answer, if any yet."""

    user: str
    assistant: str | None = None


def user_turn(text: str, *, video_frames: int = 0, image: bool = False, region: bool = False) -> str:
    """The user's message with its media placeholders, laid out as Vitron's demo does."""
    head = " ".join([VIDEO_FRAME] * video_frames)
    if image:
        head += " " + IMAGE
    if image and region:
        head += "\n" + OBJS + " "
    return head + "\n" + text if head.endswith(">") else head + text


def conversation_prompt(turns: Sequence[Turn]) -> str:
    """The ``llava_v1`` prompt (separator style TWO: " " after user turns, ``</s>`` after assistant turns),
    ending with ``ASSISTANT:`` for the model to continue."""
    text = SYSTEM + " "
    for turn in turns:
        text += f"{ROLES[0]}: {turn.user} "
        if turn.assistant is None:
            return text + f"{ROLES[1]}:"
        text += f"{ROLES[1]}: {turn.assistant}{STOP}"
    return text + f"{ROLES[1]}:"


def tokenize(prompt: str, tokenizer) -> torch.Tensor:  # noqa: ANN001 - any Hugging Face tokenizer
    """Token ids with -200 for ``<image>`` and -300 for ``<objs>``."""
    ids: list[int] = []
    for index, part in enumerate(prompt.split(OBJS)):
        if index:
            ids.append(OBJS_TOKEN_INDEX)
        ids.extend(_image_pieces(part, tokenizer, first=index == 0))
    return torch.tensor(ids, dtype=torch.long)


def _image_pieces(text: str, tokenizer, *, first: bool) -> list[int]:  # noqa: ANN001
    chunks = [tokenizer(chunk).input_ids for chunk in text.split(IMAGE)]
    bos = tokenizer.bos_token_id
    drop = 1 if first and chunks and chunks[0] and chunks[0][0] == bos else 0
    ids = [bos] if drop else []
    for index, chunk in enumerate(chunks):
        if index:
            ids.append(IMAGE_TOKEN_INDEX)
        ids.extend(chunk[drop:])
    return ids


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) in 0..1, normalised with CLIP's mean and std."""
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    return (pixels - mean) / std


def _resize_crop(pixels: torch.Tensor, mode: str) -> torch.Tensor:
    """(N, 3, H, W): short side to 224, centre crop to 224 x 224."""
    h, w = pixels.shape[-2:]
    scale = MODEL_FRAME / min(h, w)
    size = (max(MODEL_FRAME, round(h * scale)), max(MODEL_FRAME, round(w * scale)))
    resized = F.interpolate(pixels, size=size, mode=mode, align_corners=False, antialias=True)
    top, left = (size[0] - MODEL_FRAME) // 2, (size[1] - MODEL_FRAME) // 2
    return resized[..., top:top + MODEL_FRAME, left:left + MODEL_FRAME]


def preprocess_image(image: Image.Image, *, pad: bool = True) -> torch.Tensor:
    """(3, 224, 224) for the image tower."""
    image = image.convert("RGB")
    if pad and image.width != image.height:
        side = max(image.size)
        square = Image.new("RGB", (side, side), tuple(int(m * 255) for m in CLIP_MEAN))
        square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
        image = square
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return _normalise(_resize_crop(pixels[None], "bicubic")[0].clamp(0, 1))


def sample_frames(count: int, frames: int) -> list[int]:
    """Indices of ``frames`` frames spread evenly from the first to the last of ``count``."""
    return np.linspace(0, count - 1, frames, dtype=int).tolist()


def preprocess_video(frames: np.ndarray, num_frames: int) -> torch.Tensor:
    """(3, T, 224, 224) for the video tower, from (N, H, W, 3) uint8 frames."""
    chosen = frames[sample_frames(len(frames), num_frames)]
    pixels = torch.from_numpy(np.ascontiguousarray(chosen)).float().div(255.0).permute(0, 3, 1, 2)  # T 3 H W
    pixels = _normalise(pixels)
    return _resize_crop(pixels, "bilinear").permute(1, 0, 2, 3)
