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

__all__ = ["SAM2_CONFIG", "SAM2_SMALL_SIZE", "build_tiny_pipelines", "build_tiny_sam2", "build_tiny_vitron_release",
           "tiny_clip_tokenizer"]

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


_TINY_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
               "image_size": 224, "patch_size": 14, "projection_dim": 16, "layer_norm_eps": 1e-5,
               "hidden_act": "quick_gelu", "num_channels": 3}


def _tiny_tower(folder: Path, frames: int) -> Path:
    """A LanguageBind checkpoint folder laid out as released: a full CLIP-style model (vision and text towers,
    projections, logit scale) whose ``vision_config`` carries LanguageBind's video fields."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig

    from vitron_agent.vitron_model.towers import LanguageBindEncoder

    encoder = LanguageBindEncoder(CLIPVisionConfig(**_TINY_TOWER), frames)
    for layer in encoder.encoder.layers:
        if frames:
            torch.nn.init.normal_(layer.temporal_embedding, std=0.2)
    state = {f"vision_model.{k}": v.contiguous() for k, v in encoder.state_dict().items()}
    state["text_model.embeddings.token_embedding.weight"] = torch.randn(40, 32)
    state["visual_projection.weight"] = torch.randn(16, 32)
    state["text_projection.weight"] = torch.randn(16, 32)
    state["logit_scale"] = torch.tensor(2.6592)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    vision = {**_TINY_TOWER, "add_time_attn": bool(frames), "num_frames": frames or 1,
              "video_decode_backend": "decord", "lora_r": 0}
    kind = "LanguageBindVideo" if frames else "LanguageBindImage"
    (folder / "config.json").write_text(json.dumps({
        "model_type": kind, "architectures": [kind], "projection_dim": 16,
        "vision_config": vision, "text_config": {"hidden_size": 32, "num_hidden_layers": 1, "vocab_size": 40},
    }, indent=2))
    return folder


def _tiny_llama_tokenizer(folder: Path) -> Any:
    """A byte-level BPE tokenizer with Llama's special tokens (``<unk>`` 0, ``<s>`` 1, ``</s>`` 2) and a BOS added
    to every text, trained on Vitron-style text so its prompts tokenize into real pieces."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [
        "A chat between a curious human and an artificial intelligence assistant. USER: ASSISTANT: ",
        "Sure, I will segment the dog. <module>B</module> <instruction>segmentation: dog</instruction>",
        "<region>[21, 42, 203, 177]</region> image generation editing video tracking animate",
    ] * 20
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    fast.save_pretrained(folder)
    return fast


def build_tiny_vitron_release(root: Path) -> dict[str, Path]:
    """A random-weight Vitron release laid out like ``Vitron/vitron-base`` + ``Vitron/vitron-lora``, with the
    two LanguageBind tower folders its config names. Returns the folders: base, lora, image_tower, video_tower.

    The base checkpoint also carries a tower key (as a model saved with its towers attached does), so loading
    shows it ignored; the adapter's ``lora_B`` matrices are random (peft starts them at zero), so merging changes
    the weights; ``non_lora_trainables.bin`` holds the projector and region extractor under the
    ``base_model.model.model.`` prefix a peft model saves them with.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file, save_file
    from transformers import LlamaConfig

    from vitron_agent.vitron_model.modeling import VitronForCausalLM

    torch.manual_seed(0)
    folders = {"image_tower": _tiny_tower(root / "LanguageBind_Image", 0),
               "video_tower": _tiny_tower(root / "LanguageBind_Video_merge", 8),
               "base": root / "vitron-base", "lora": root / "vitron-lora"}
    tokenizer = _tiny_llama_tokenizer(folders["base"])
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048, bos_token_id=1,
        eos_token_id=2, tie_word_embeddings=False,
    )
    for key, value in {
        "mm_image_tower": str(folders["image_tower"]), "mm_video_tower": str(folders["video_tower"]),
        "mm_projector_type": "mlp2x_gelu", "mm_hidden_size": _TINY_TOWER["hidden_size"],
        "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch", "mm_use_im_start_end": False,
        "mm_use_im_patch_token": False, "image_aspect_ratio": "pad", "tokenizer_model_max_length": 3072,
    }.items():
        setattr(config, key, value)
    base = VitronForCausalLM(config)
    base.save_pretrained(folders["base"])
    weights = folders["base"] / "model.safetensors"
    state = load_file(str(weights))
    state["model.image_tower.image_tower.embeddings.class_embedding"] = torch.zeros(32)
    save_file(state, str(weights), metadata={"format": "pt"})

    lora = folders["lora"]
    adapter = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                            "up_proj", "down_proj"], task_type="CAUSAL_LM")
    peft_model = get_peft_model(base, adapter)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    peft_model.save_pretrained(lora)
    trained = {f"base_model.model.{k}": torch.randn_like(v) for k, v in base.state_dict().items()
               if k.startswith(("model.mm_projector.", "model.region_extractor."))}
    torch.save(trained, lora / "non_lora_trainables.bin")
    released = json.loads(config.to_json_string())
    released.update(model_type="llava", architectures=["LlavaLlamaForCausalLM"])
    (lora / "config.json").write_text(json.dumps(released, indent=2))
    return folders
