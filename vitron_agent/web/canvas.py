"""The large picture one draws on, bounded: a brush stroke never decodes a full-size picture.

Gradio's ``ImageEditor`` sends its background, every layer and their composite with each change, each the size of
the picture on it, and decodes all three before the handler runs: a 13000 x 13000 PNG of 160 KiB on the wire
is 4.8 GiB once decoded. Here the editor

- is shown a preview of at most ``PREVIEW_SIDE`` pixels a side (:func:`~vitron_agent.web.pointing.preview`),
  so its layers are that small, and a box drawn on it is scaled back to the picture
  (:func:`~vitron_agent.web.pointing.to_picture`);
- decodes only the brush layers, each after its header is read and its size checked (:class:`Canvas`): the
  background and composite are the page's own picture and are never read back;
- keeps only the last few drawings the browser uploaded, rather than every one ever sent.

Usage::

    canvas = Canvas(elem_id="canvas", ...)          # as gr.ImageEditor; its change event gets the layers only
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any

import gradio as gr
import numpy as np
from gradio.components.base import server
from gradio.data_classes import FileData
from PIL import Image

from vitron_agent.web.pointing import PREVIEW_SIDE

__all__ = ["BLOB_BYTES", "KEPT_DRAWINGS", "LAYER_PIXELS", "Canvas"]

KEPT_DRAWINGS = 8
"""Drawings the browser has uploaded but no change event has read yet, kept at most (the oldest go first)."""
LAYER_PIXELS = PREVIEW_SIDE * PREVIEW_SIDE
"""The most pixels a brush layer may have: the editor's picture is never larger, so a larger one is not the
page's (another client's), and it is refused from its header, undecoded."""
BLOB_BYTES = 4 * LAYER_PIXELS + 2**20
"""The largest drawing the browser may upload: the preview's pixels, uncompressed, and a margin."""
TOO_LARGE = (f"that drawing is larger than the picture shown ({PREVIEW_SIDE} pixels a side at most), so it was not "
             "read; draw on the picture again")


class Canvas(gr.ImageEditor):
    """``gr.ImageEditor`` whose change event reads only the brush layers: each one's size is checked from its
    header before it is decoded, and only its alpha channel (what was painted) is kept. The value the handler
    gets is ``{"layers": [uint8 alpha arrays], "refused": sentence or None}``."""

    is_template = True  # Gradio's mark for a subclass whose browser side is its parent's: the ImageEditor

    def preprocess(self, payload: Any) -> dict[str, Any] | None:
        if payload is None:
            return None
        blobs = self.blob_storage.pop(payload.id, None) if payload.id is not None else None
        layers = (blobs.layers if blobs is not None else payload.layers) or []
        try:
            return {"layers": [_painted(layer) for layer in layers if layer is not None], "refused": None}
        except ValueError as error:
            return {"layers": [], "refused": str(error)}

    @server
    def accept_blobs(self, data: Any) -> None:
        if any(len(blob) > BLOB_BYTES for _, blob in data.files):
            return  # larger than any drawing of the preview: not kept, so nothing is drawn
        super().accept_blobs(data)
        while len(self.blob_storage) > KEPT_DRAWINGS:  # uploads no event came for: the oldest go
            self.blob_storage.pop(next(iter(self.blob_storage)))


def _painted(layer: FileData | bytes | Mapping[str, Any]) -> np.ndarray:
    """What a brush layer marks: its alpha channel (any non-zero value where painted), decoded only when its
    header says it is no larger than the editor's picture."""
    path = layer.path if isinstance(layer, FileData) else layer.get("path") if isinstance(layer, Mapping) else None
    try:
        source = Image.open(path if path is not None else BytesIO(bytes(layer)))  # type: ignore[arg-type]
        width, height = source.size
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ValueError("that drawing could not be read; draw on the picture again") from None
    if width * height > LAYER_PIXELS:
        raise ValueError(TOO_LARGE)
    with source:
        if "A" in source.getbands():
            return np.asarray(source.getchannel("A"))
        return np.asarray(source.convert("L"))
