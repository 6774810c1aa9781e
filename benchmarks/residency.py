"""Model residency: ten segment_image calls through a session whose model manager keeps SAM2 loaded, against
reloading SAM2 for every call (what Vitron's demo does), with random-weight SAM 2.1 hiera-tiny at its real size
(1024). Also seconds per frame for segment_video on this machine, for both backends.

    python benchmarks/residency.py [--calls 10] [--video-frames 4]

Random weights make the masks meaningless but the work identical: same architecture, same sizes, same code path
as the released checkpoint, loaded from a file the way a user's is.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from rows import Row
from vitron_agent.tools.segment_video import SegmentVideo
from vitron_agent.media import encode_video, load_video
from vitron_agent.models import ModelManager
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.regions import Box
from vitron_agent.session import Session
from vitron_agent.tools import ToolContext, call_record
from vitron_agent.tools.segment_video import SegmentVideoTool

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "media", ROOT / "tests" / "data"
PHOTOS = [SAMPLES[0] / name for name in ("motorcycle.jpg", "tennis_player.jpg", "dog_in_car.jpg",
                                         "extreme_ironing.jpg")] + [SAMPLES[1] / "plate.jpg"]
ASK = "<module>B</module> <instruction>segmentation: the object in the box</instruction>"
CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_sam2(folder: Path) -> Path:
    import torch
    from sam2.build_sam import build_sam2

    torch.manual_seed(0)
    model = build_sam2(CONFIG, None, device="cpu", apply_postprocessing=False)
    path = folder / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": model.state_dict()}, path)
    return path


def workspace_for(root: Path, name: str, checkpoint: Path | None, backend: str = "auto") -> Path:
    workspace = root / name
    workspace.mkdir()
    sam2 = f'[weights.sam2]\nsource = "{checkpoint}"\nconfig = "{CONFIG}"\n' if checkpoint else ""
    (workspace / "vitron.toml").write_text(f'[segmentation]\nbackend = "{backend}"\n{sam2}')
    return workspace


def calls(workspace: Path, photos: list[Path], reload: bool) -> tuple[float, dict]:
    session = Session(workspace, ScriptedPlanner([ASK] * len(photos)), policy="auto", import_roots=[ROOT],
                      models=ModelManager(device="cpu"))
    start = time.perf_counter()
    for photo in photos:
        if reload:
            session.models.clear()  # what reloading per call amounts to
        turn = session.send("segment it", attachments=[photo], region=(100, 80, 400, 380))
        if not turn.artifacts:
            raise RuntimeError(turn.text)
    return time.perf_counter() - start, session.models.stats()


def video_seconds_per_frame(workspace: Path, frames: int) -> float:
    from vitron_agent.artifacts import ArtifactStore

    store = ArtifactStore(workspace, import_roots=[ROOT, workspace])
    clip = load_video(SAMPLES[1] / "motorbike_frames").frames[:frames]
    (workspace / "clip.mp4").write_bytes(encode_video(clip, 15))
    video = store.import_file(workspace / "clip.mp4")
    call = SegmentVideo(video=video.id, region=Box.of((198, 172, 296, 278)))
    models = ModelManager(device="cpu")
    ctx = ToolContext(store=store, call=call_record(SegmentVideoTool, call), models=models)
    SegmentVideoTool().run(call, ctx)  # load the model and warm up
    start = time.perf_counter()
    SegmentVideoTool().run(call, ctx)
    return (time.perf_counter() - start) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--video-frames", type=int, default=4)
    args = parser.parse_args()
    measure(count=args.calls, video_frames=args.video_frames)


def measure(quick: bool = False, count: int | None = None, video_frames: int | None = None) -> list[Row]:
    """SAM2 kept loaded against reloaded per call (Vitron's way), and segment_video seconds per frame."""
    count = count or (3 if quick else 10)
    video_frames = video_frames or (1 if quick else 4)
    root = Path(tempfile.mkdtemp(prefix="vitron-residency-"))
    checkpoint = random_sam2(root)
    one_photo = [PHOTOS[0]] * count
    many_photos = [PHOTOS[i % len(PHOTOS)] for i in range(count)]
    rows = []
    for label, photos in (("same photo (refining one selection)", one_photo),
                          ("a different photo each call", many_photos)):
        resident_s, resident = calls(workspace_for(root, f"resident-{len(rows)}", checkpoint), photos, reload=False)
        reload_s, reloaded = calls(workspace_for(root, f"reload-{len(rows)}", checkpoint), photos, reload=True)
        rows.append((label, resident_s, reload_s, resident["loads"], reloaded["loads"]))
    print(f"{count} segment_image calls through a session, random-weight SAM 2.1 hiera-tiny at 1024, CPU")
    print(f"{'':<38}{'resident':>10}{'reload':>10}{'ratio':>8}{'loads':>12}")
    for label, resident_s, reload_s, loads_kept, loads_reloaded in rows:
        print(f"{label:<38}{resident_s:>9.1f}s{reload_s:>9.1f}s{reload_s / resident_s:>7.1f}x"
              f"{f'{loads_kept} vs {loads_reloaded}':>12}")
    print("goal: >= 5x")
    print(f"peak RSS of this process: {peak_rss_mib():.0f} MiB")
    classic = video_seconds_per_frame(workspace_for(root, "video-classic", None, "classic"), video_frames)
    sam2 = video_seconds_per_frame(workspace_for(root, "video-sam2", checkpoint, "sam2"), video_frames)
    print(f"segment_video, {video_frames} frames of 854 x 480: classic {classic:.2f} s/frame, "
          f"SAM2 (random hiera-tiny at 1024) {sam2:.2f} s/frame")
    return [
        *(Row("residency", f"reload-per-call time / resident time, {label}", reload_s / resident_s, "x", goal=5.0,
              lower_is_better=False, note=f"{count} calls; loads {kept} vs {reloaded}")
          for label, resident_s, reload_s, kept, reloaded in rows),
        Row("residency", "segment_video seconds per frame, SAM2 (random hiera-tiny, 854x480)", sam2, "s",
            note=f"classic: {classic:.2f} s/frame"),
    ]


if __name__ == "__main__":
    main()
