"""Tiny random-weight models for tests and benchmarks, built from small configs with the real libraries.

They load back through exactly the paths real checkpoints take (``from_pretrained``, ``build_sam2``), so the
code under test is the code users run; only the weights are random. Needs the ``vision`` extra.

Usage::

    folders = build_tiny_pipelines(Path("tiny"))   # {"sd": ..., "inpaint": ..., "t2v": ..., ...}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SAM2_CONFIG", "SAM2_SMALL_SIZE", "build_tiny_pipelines", "build_tiny_sam2", "tiny_clip_tokenizer"]

SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SAM2_SMALL_SIZE = ["++model.image_size=256"]


def build_tiny_sam2(path: Path, overrides: list[str] | None = None) -> Path:
    """A random-weight SAM 2.1 hiera-tiny (input size 256 unless ``overrides`` says otherwise), saved as released
    checkpoints are (``{"model": state_dict}``)."""
    import torch
    from sam2.build_sam import build_sam2

    torch.manual_seed(0)
    model = build_sam2(SAM2_CONFIG, None, device="cpu",
                       hydra_overrides_extra=SAM2_SMALL_SIZE if overrides is None else overrides,
                       apply_postprocessing=False)
    torch.save({"model": model.state_dict()}, path)
    return path


def tiny_clip_tokenizer(folder: Path) -> Any:
    """A CLIP tokenizer over single letters, written to ``folder`` (``vocab.json`` and a ``merges.txt`` holding
    only its version header). The special tokens come last, as in CLIP's own vocabulary: OWLv2 treats a query
    whose first id is 0 as padding."""
    import transformers

    vocab: dict[str, int] = {}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        vocab[letter] = len(vocab)
        vocab[letter + "</w>"] = len(vocab)
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=32)


def build_tiny_pipelines(root: Path) -> dict[str, Path]:
    """Tiny random pipelines for every generation and editing tool, saved under ``root`` with
    ``save_pretrained``: Stable Diffusion, GLIGEN, inpainting, InstructPix2Pix, TextToVideoSD and Stable Video
    Diffusion, from small configs (UNet, VAE, CLIP text encoder, scheduler, and a tokenizer written from a small
    vocabulary, so no hub is needed). Returns the folder of each, keyed by weights family."""
    import diffusers
    import torch
    import transformers

    root.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_clip_tokenizer(root)
    vocab = tokenizer.get_vocab()
    made = {}
    kinds = {"sd": ("StableDiffusionPipeline", 4, False), "gligen": ("StableDiffusionGLIGENPipeline", 4, True),
             "inpaint": ("StableDiffusionInpaintPipeline", 9, False),
             "pix2pix": ("StableDiffusionInstructPix2PixPipeline", 8, False),
             "t2v": ("TextToVideoSDPipeline", 4, False)}
    for name, (class_name, in_channels, gated) in kinds.items():
        torch.manual_seed(0)
        text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=32, bos_token_id=len(vocab) - 2, eos_token_id=len(vocab) - 1,
            pad_token_id=len(vocab) - 1, projection_dim=32))
        if name == "t2v":
            unet = diffusers.UNet3DConditionModel(
                block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
                down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
                cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)
        else:
            unet = diffusers.UNet2DConditionModel(
                block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=in_channels,
                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, attention_head_dim=8,
                norm_num_groups=8, **({"attention_type": "gated"} if gated else {}))
        # Four blocks, so latents are an eighth of the image as in real Stable Diffusion: photo-sized inputs
        # then stay cheap for the tiny UNet's attention.
        vae = diffusers.AutoencoderKL(
            block_out_channels=(16, 16, 32, 32), in_channels=3, out_channels=3, latent_channels=4,
            norm_num_groups=8, layers_per_block=1, down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64)
        scheduler = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                            clip_sample=False, set_alpha_to_one=False, steps_offset=1)
        parts = {"vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer, "unet": unet, "scheduler": scheduler}
        if name != "t2v":
            parts.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        pipeline = getattr(diffusers, class_name)(**parts)
        pipeline.save_pretrained(root / name)
        made[name] = root / name
    made["i2v"] = _tiny_stable_video(root / "i2v", torch, diffusers, transformers)
    return made


def _tiny_stable_video(folder: Path, torch: Any, diffusers: Any, transformers: Any) -> Path:
    """A tiny random Stable Video Diffusion pipeline (its CLIP image encoder reads 224 px, as the pipeline feeds)."""
    torch.manual_seed(0)
    image_encoder = transformers.CLIPVisionModelWithProjection(transformers.CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
        intermediate_size=37, patch_size=32))
    unet = diffusers.UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"), cross_attention_dim=32,
        num_attention_heads=8, projection_class_embeddings_input_dim=96, addition_time_embed_dim=32)
    vae = diffusers.AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 32, 32, 32), in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4)
    scheduler = diffusers.EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002, steps_offset=1, timestep_spacing="leading",
        timestep_type="continuous", use_karras_sigmas=True)
    pipeline = diffusers.StableVideoDiffusionPipeline(
        vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler,
        feature_extractor=transformers.CLIPImageProcessor(crop_size=224, size=224))
    pipeline.save_pretrained(folder)
    return folder
