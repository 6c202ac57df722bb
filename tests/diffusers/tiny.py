"""Tiny random diffusers pipelines saved into a folder, built the way diffusers' own fast tests
build theirs (``get_dummy_components`` in tests/pipelines/stable_diffusion/
test_stable_diffusion.py and tests/pipelines/stable_audio/test_stable_audio.py): no download,
a CLIP tokenizer from a vocabulary written here, a few thousand random weights."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

# tiny networks are all thread start-up: one thread is several times faster on a busy machine
torch.set_num_threads(1)


def clip_tokenizer(folder: Path) -> object:
    """A CLIP BPE tokenizer over single letters and a few merges: every lower-case word
    tokenises, so different prompts give different ids."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    letters = list(string.ascii_lowercase) + list(string.digits) + list(",.-'")
    vocab: dict[str, int] = {"<|startoftext|>": 0, "!": 1, "<|endoftext|>": 2}
    for ch in letters:
        vocab.setdefault(ch, len(vocab))
    for ch in letters:
        vocab.setdefault(ch + "</w>", len(vocab))
    merges = ["t h", "th e</w>", "e r</w>", "a t</w>", "s e", "o n</w>"]
    for m in merges:
        vocab.setdefault(m.replace(" ", ""), len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=32,
                         pad_token="!")


def _clip_config(tok: Any, positions: int, **extra: Any) -> Any:
    """The tiny CLIP text encoder's configuration every pipeline here uses (diffusers' tests' own):
    32 wide, 2 layers, the test tokenizer's vocabulary, ``positions`` tokens."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(bos_token_id=0, eos_token_id=2, hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05,
                          num_attention_heads=4, num_hidden_layers=2, pad_token_id=1,
                          vocab_size=max(tok.get_vocab().values()) + 1, max_position_embeddings=positions, **extra)


def _t5_encoder(tok: Any) -> Any:
    """The tiny T5 text encoder of the Flux and SD3 pipelines (seeded by the caller)."""
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(vocab_size=len(tok.get_vocab()), d_model=32, d_kv=8, d_ff=37, num_layers=1,
                                   num_heads=4, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1))


def _flow_vae(latent_channels: int) -> Any:
    """The tiny one-block VAE of the flow-matching pipelines (Flux: 1 latent channel, SD3: 4)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1,
                         latent_channels=latent_channels, norm_num_groups=1, use_quant_conv=False,
                         use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035)


def _sd_vae() -> Any:
    """The tiny 4-channel VAE of the Stable Diffusion and SDXL pipelines (seeded by the caller)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=[4, 8], in_channels=3, out_channels=3,
                         down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                         up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4, norm_num_groups=2)


def tiny_sd(folder: Path, *, sample_size: int = 32) -> Path:
    """A Stable Diffusion 1.x-type pipeline (UNet2DConditionModel, AutoencoderKL with a scale
    of 2, CLIPTextModel, DDIM) at ``sample_size`` latents, saved with ``save_pretrained``."""
    from diffusers import (
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel

    tok = clip_tokenizer(folder / "_tok")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=sample_size,
                                in_channels=4, out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=2)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False)
    torch.manual_seed(0)
    vae = _sd_vae()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_config(tok, 32))
    pipe = StableDiffusionPipeline(unet=unet, scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tok,
                                   safety_checker=None, feature_extractor=None, image_encoder=None,
                                   requires_safety_checker=False)
    out = folder / "tiny-sd"
    pipe.save_pretrained(str(out))
    return out


def t5_tokenizer(folder: Path) -> object:
    """A word-level T5 tokenizer (``tokenizers``) over the words the tests use."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", *sorted({
        "ambient", "folk", "electronic", "drone", "choral", "in", "the", "style", "of", "nobody", "names", "are",
        "gone", "slow", "strings", "rain", "a", "b", "c", "la", ",", "."})]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=16)


def tiny_stable_audio(folder: Path, *, rate: int = 800, sample_size: int = 64) -> Path:
    """A StableAudioPipeline as diffusers' fast test builds it (StableAudioDiTModel,
    AutoencoderOobleck, a tiny T5 encoder, the projection model, CosineDPMSolver), with a VAE
    hop of 4 at ``rate`` Hz, so one call makes ``sample_size * 4 / rate`` seconds."""
    from diffusers import (
        AutoencoderOobleck,
        EDMDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer = t5_tokenizer(folder / "_t5")
    torch.manual_seed(0)
    transformer = StableAudioDiTModel(sample_size=sample_size, in_channels=3, num_layers=2, attention_head_dim=4,
                                      num_key_value_attention_heads=2, out_channels=3, cross_attention_dim=4,
                                      time_proj_dim=8, global_states_input_dim=8, cross_attention_input_dim=4)
    scheduler = EDMDPMSolverMultistepScheduler(solver_order=2, prediction_type="v_prediction", sigma_data=1.0)
    torch.manual_seed(0)
    vae = AutoencoderOobleck(encoder_hidden_size=6, downsampling_ratios=[2, 2], decoder_channels=3,
                             decoder_input_channels=3, audio_channels=2, channel_multiples=[2, 4], sampling_rate=rate)
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(tokenizer.get_vocab()), d_model=4, d_kv=2, d_ff=8,
                                           num_layers=1, num_heads=2, decoder_start_token_id=0, pad_token_id=0,
                                           eos_token_id=1))
    torch.manual_seed(0)
    projection = StableAudioProjectionModel(text_encoder_dim=4, conditioning_dim=4, min_value=0, max_value=32)
    pipe = StableAudioPipeline(transformer=transformer, scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                               tokenizer=tokenizer, projection_model=projection)
    out = folder / "tiny-stable-audio"
    pipe.save_pretrained(str(out))
    return out


def tiny_sdxl(folder: Path) -> Path:
    """A Stable Diffusion XL pipeline (two CLIP text encoders, the second with a projection whose
    pooled output conditions the UNet's ``text_time`` embedding), after diffusers'
    tests/pipelines/stable_diffusion_xl get_dummy_components."""
    from diffusers import (
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tok = clip_tokenizer(folder / "_tok")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(2, 4), layers_per_block=2, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                                use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
                                transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
                                cross_attention_dim=64, norm_num_groups=1)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear",
                                       timestep_spacing="leading")
    torch.manual_seed(0)
    vae = _sd_vae()
    config = _clip_config(tok, 32, hidden_act="gelu", projection_dim=32)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(config)
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(config)
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tok,
                                     tokenizer_2=tok, unet=unet, scheduler=scheduler, image_encoder=None,
                                     feature_extractor=None)
    out = folder / "tiny-sdxl"
    pipe.save_pretrained(str(out))
    return out


def tiny_flux(folder: Path) -> Path:
    """A Flux pipeline (CLIP for the pooled embedding, T5 for the sequence, a one-block
    FluxTransformer2DModel on packed latents, flow-matching Euler), after diffusers'
    tests/pipelines/flux get_dummy_components."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    tok = clip_tokenizer(folder / "_tok")
    tok2 = t5_tokenizer(folder / "_t5")
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=4, num_layers=1, num_single_layers=1,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=32, axes_dims_rope=[4, 4, 8])
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_config(tok, 77, hidden_act="gelu", projection_dim=32))
    torch.manual_seed(0)
    text_encoder_2 = _t5_encoder(tok2)
    torch.manual_seed(0)
    vae = _flow_vae(1)
    pipe = FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=text_encoder,
                        text_encoder_2=text_encoder_2, tokenizer=tok, tokenizer_2=tok2, transformer=transformer, vae=vae,
                        image_encoder=None, feature_extractor=None)
    out = folder / "tiny-flux"
    pipe.save_pretrained(str(out))
    return out


def tiny_sd3(folder: Path) -> Path:
    """A Stable Diffusion 3 pipeline (two CLIP encoders with projections and a T5 encoder, an
    MMDiT SD3Transformer2DModel, flow-matching Euler), after diffusers'
    tests/pipelines/stable_diffusion_3 get_dummy_components."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    tok = clip_tokenizer(folder / "_tok")
    tok3 = t5_tokenizer(folder / "_t5")
    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(sample_size=16, patch_size=1, in_channels=4, num_layers=1, attention_head_dim=8,
                                        num_attention_heads=4, caption_projection_dim=32, joint_attention_dim=32,
                                        pooled_projection_dim=64, out_channels=4)
    config = _clip_config(tok, 77, hidden_act="gelu", projection_dim=32)
    torch.manual_seed(0)
    text_encoder = CLIPTextModelWithProjection(config)
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(config)
    torch.manual_seed(0)
    text_encoder_3 = _t5_encoder(tok3)
    torch.manual_seed(0)
    vae = _flow_vae(4)
    pipe = StableDiffusion3Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=text_encoder,
                                    text_encoder_2=text_encoder_2, text_encoder_3=text_encoder_3, tokenizer=tok,
                                    tokenizer_2=tok, tokenizer_3=tok3, transformer=transformer, vae=vae,
                                    image_encoder=None, feature_extractor=None)
    out = folder / "tiny-sd3"
    pipe.save_pretrained(str(out))
    return out
