"""Words to a box: a zero-shot object detector from transformers (Grounding DINO by default, OWLv2 works too).

Loaded with ``AutoProcessor`` and ``AutoModelForZeroShotObjectDetection`` from the ``grounding`` weights family
(default ``IDEA-Research/grounding-dino-tiny``; see :mod:`vitron_agent.weights`), once, through the model manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vitron_agent.regions import Box, RegionError
from vitron_agent.weights import Family, fetch

__all__ = ["DEFAULT_GROUNDING", "GROUNDING", "Detector", "locate"]

DEFAULT_GROUNDING = "IDEA-Research/grounding-dino-tiny"
GROUNDING = Family("grounding", DEFAULT_GROUNDING, packages=("torch", "transformers", "huggingface_hub"))
THRESHOLD = 0.2


@dataclass
class Detector:
    """A processor and its model, kept together in the model manager (which sizes ``model``)."""

    processor: Any
    model: Any


def load_detector(models: Any, workspace: Path | None) -> tuple[Detector, float]:
    """The configured detector, built once; returns it with its score threshold (``threshold`` in
    ``[weights.grounding]``, default 0.2)."""
    spec = GROUNDING.spec(workspace)
    folder = fetch(spec, None, workspace=workspace)

    def load(device: str, dtype: str) -> Detector:
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        processor = AutoProcessor.from_pretrained(folder)
        model = AutoModelForZeroShotObjectDetection.from_pretrained(folder).to(device).eval()
        return Detector(processor, model)

    detector = models.get(f"grounding:{spec.source}", load, dtype="float32")
    return detector, float(spec.extras.get("threshold", THRESHOLD))


def locate(target: str, image: np.ndarray, workspace: Path | None, models: Any) -> Box:
    """The highest-scoring box for ``target`` in an RGB image.

    Raises:
        WeightsUnavailable: no detector weights.
        LookupError: the detector found nothing above its threshold.
    """
    import torch
    from PIL import Image

    detector, threshold = load_detector(models, workspace)
    height, width = image.shape[:2]
    inputs = detector.processor(images=Image.fromarray(image), text=[[target]], return_tensors="pt")
    inputs = inputs.to(detector.model.device)
    with torch.inference_mode():
        outputs = detector.model(**inputs)
    # OWLv2 pads images to a square before predicting, so its boxes are in the padded square's frame.
    square = type(detector.processor).__name__.startswith("Owlv2")
    frame = (max(height, width),) * 2 if square else (height, width)
    [found] = detector.processor.post_process_grounded_object_detection(
        outputs, threshold=threshold, target_sizes=[frame], text_labels=[[target]]
    )
    for index in torch.argsort(found["scores"], descending=True).tolist():
        try:
            return Box.of([float(v) for v in found["boxes"][index]]).clipped((width, height))[0]
        except RegionError:  # empty, inverted or outside the image: try the next best
            continue
    raise LookupError(f"found no {target!r} in the image")
