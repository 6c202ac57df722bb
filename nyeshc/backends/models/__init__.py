"""Adapters for the real models (StyleGAN2-ADA, First Order Motion Model, Wav2Lip, JukeBox, and
a small pretrained DCGAN face generator from PyPI) behind the same protocols as the embedded
procedural backends. torch and each model's code are imported only inside these modules, on
first use; see ``docs/models.md``."""
