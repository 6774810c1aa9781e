"""The picture a decision is shown with: the call's region drawn on its image, stored as an artifact.

It is made in ``validate``, before the review asks, so the review node itself stays free of side effects (it
re-runs on resume). Previews are content-addressed like every artifact, so making one twice stores it once.
"""

from __future__ import annotations

from vitron_agent.artifacts import Artifact, ArtifactStore
from vitron_agent.media import encode_image, load_frame, load_image
from vitron_agent.regions import Box

__all__ = ["draw_region_preview"]

_OUTLINE = (255, 64, 32)


def draw_region_preview(store: ArtifactStore, image_id: str, region: Box, frame: int = 0) -> Artifact:
    """Draw ``region`` on the stored image ``image_id`` (for a video, on frame ``frame``) and store the result
    as a JPEG ``preview``."""
    from PIL import ImageDraw

    source = store.get(image_id)
    path = store.local_path(source)
    image = load_frame(path, frame) if source.media_type.startswith("video/") else load_image(path)
    width = max(2, round(max(image.size) / 200))
    ImageDraw.Draw(image).rectangle(region.as_tuple(), outline=_OUTLINE, width=width)
    return store.add(
        encode_image(image, "JPEG", quality=85),
        kind="preview",
        suffix=".jpg",
        parents=[image_id],
        call={"tool": "preview", "args": {"region": list(region.as_tuple()), "frame": frame}},
        meta={"width": image.width, "height": image.height},
    )
