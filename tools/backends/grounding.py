"""Words to a box: a zero-shot object detector from transformers (Grounding DINO by default, OWLv2 works too).

Loaded with ``AutoProcessor`` and ``AutoModelForZeroShotObjectDetection`` from the ``grounding`` weights family
(default ``IDEA-Research/grounding-dino-tiny``; see :mod:`vitron_agent.weights`), once, through the model manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vitron_agent.regions import Box
from vitron_agent.weights import fetch, weight_spec

__all__ = ["DEFAULT_GROUNDING", "Detector", "locate"]

DEFAULT_GROUNDING = "IDEA-Research/grounding-dino-tiny"
THRESHOLD = 0.2


@dataclass
class Detector:
    """A processor and its model, kept together in the model manager (which sizes ``model``)."""

    processor: Any
    model: Any


def load_detector(models: Any, workspace: Path | None) -> tuple[Detector, str]:
    """The configured detector, built once; returns it with its model id."""
    spec = weight_spec("grounding", DEFAULT_GROUNDING, workspace)
    folder = fetch(spec, None, workspace=workspace)

    def load(device: str, dtype: str) -> Detector:
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        processor = AutoProcessor.from_pretrained(folder)
        model = AutoModelForZeroShotObjectDetection.from_pretrained(folder).to(device).eval()
        return Detector(processor, model)

    return models.get(f"grounding:{spec.source}", load, dtype="float32"), spec.source


def locate(target: str, image: np.ndarray, workspace: Path | None, models: Any,
           threshold: float = THRESHOLD) -> Box:
    """The highest-scoring box for ``target`` in an RGB image.

    Raises:
        WeightsUnavailable: no detector weights.
        LookupError: the detector found nothing above ``threshold``.
    """
    import torch
    from PIL import Image

    detector, _ = load_detector(models, workspace)
    height, width = image.shape[:2]
    inputs = detector.processor(images=Image.fromarray(image), text=[[target]], return_tensors="pt")
    inputs = inputs.to(detector.model.device)
    with torch.inference_mode():
        outputs = detector.model(**inputs)
    [found] = detector.processor.post_process_grounded_object_detection(
        outputs, threshold=threshold, target_sizes=[(height, width)], text_labels=[[target]]
    )
    if len(found["scores"]) == 0:
        raise LookupError(f"found no {target!r} in the image")
    best = int(torch.argmax(found["scores"]))
    box = Box.of([float(v) for v in found["boxes"][best]])
    return box.clipped((width, height))[0]
