"""The whole-sequence VAE encode equals diffusers' own chunked cached encode (the posterior's mode)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from videosdgx_export.wan.checkpoint import WanCheckpoint
from videosdgx_export.wan.graphs import WholeSequenceEncoder


@pytest.mark.parametrize("frames", [5, 9, 17])
def test_whole_sequence_encode_matches_diffusers(checkpoint: Path, frames: int) -> None:
    vae = WanCheckpoint.open(checkpoint).vae()
    video = torch.rand(1, 3, frames, 32, 48, generator=torch.Generator().manual_seed(frames)) * 2 - 1
    video[:, :, 1:] *= 0.5  # later frames unlike the first, so time mixing shows
    with torch.no_grad():
        ours = WholeSequenceEncoder(vae)(video)
        theirs = vae.encode(video).latent_dist.mode()  # the same module afterwards encodes as diffusers does
    assert ours.shape == theirs.shape == (1, 16, (frames - 1) // 4 + 1, 4, 6)
    assert (ours - theirs).abs().max().item() < 1e-5
    assert theirs[:, :, 1:].std().item() > 0.01


def test_image_then_zeros_as_the_i2v_pipeline_encodes_it(checkpoint: Path) -> None:
    vae = WanCheckpoint.open(checkpoint).vae()
    video = torch.zeros(1, 3, 9, 32, 48)
    video[:, :, 0] = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        ours = WholeSequenceEncoder(vae)(video)
        theirs = vae.encode(video).latent_dist.mode()
    assert (ours - theirs).abs().max().item() < 1e-5
