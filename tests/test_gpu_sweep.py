"""scripts/gpu_sweep.py ranks recipes with its own loop: its windows, normalisation and loss must be the recipe's."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import ROOT
from torch.nn import functional as F

from data.audio import crop
from distillation import distillation_loss
from train_student import student_feature_extractor

sys.path.insert(0, str(ROOT / "scripts"))

import gpu_sweep  # noqa: E402


@pytest.fixture
def clips() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        (rng.standard_normal(n) * scale + shift).astype(np.float32)
        for n, scale, shift in ((900, 0.3, 0.1), (400, 2.0, -1.0), (1500, 0.05, 0.0))
    ]


def test_windows_are_the_training_crops_and_normalised_like_the_feature_extractor(clips):
    flat, starts, lengths = gpu_sweep.flatten(clips)
    window, offsets = 600, [250, 0, 900]  # the second clip is shorter than the window: whole clip, then padding
    batch, mask = gpu_sweep.gather(
        torch.tensor(flat), torch.tensor(starts), torch.tensor(lengths), torch.arange(3), torch.tensor(offsets), window
    )
    normalised = gpu_sweep.normalise(batch, mask)
    expected = student_feature_extractor()([crop(c, window, o) for c, o in zip(clips, offsets)], sampling_rate=16000)
    for row, reference in enumerate(expected["input_values"]):
        real = int(mask[row].sum())
        assert real == len(reference)
        np.testing.assert_allclose(batch[row, :real].numpy(), crop(clips[row], window, offsets[row]))
        np.testing.assert_allclose(normalised[row, :real].numpy(), reference, atol=1e-4)
        assert not normalised[row, real:].any()  # padding stays zero, the mean of a normalised clip


def test_loss_is_the_projects_distillation_loss():
    generator = torch.Generator().manual_seed(0)
    logits, teacher = torch.randn(8, 6, generator=generator), 3 * torch.randn(8, 6, generator=generator)
    labels = torch.randint(6, (8,), generator=generator)
    hard = F.one_hot(labels, 6).float()
    for alpha, temperature in ((0.5, 2.0), (0.2, 4.0), (0.0, 1.0)):
        probs = F.softmax(teacher / temperature, -1)
        torch.testing.assert_close(
            gpu_sweep.soft_target_loss(logits, hard, probs, alpha, temperature),
            distillation_loss(logits, teacher, labels, alpha, temperature),
        )
    torch.testing.assert_close(gpu_sweep.soft_target_loss(logits, hard), F.cross_entropy(logits, labels))


def test_sweep_layouts_are_the_recipes_models():
    """The 7-block sweep trains configs/student_recipe_deep.json's model (1,079,995 parameters), the default sweep
    the 3-block mean+std LiteCNN of the CPU rows (1,080,016): a loop on another model would rank the wrong thing."""
    from configuration_litecnn import LiteCNNConfig
    from modeling_litecnn import LiteCNNForAudioClassification

    def parameters(name: str) -> int:
        model = LiteCNNForAudioClassification(LiteCNNConfig(**gpu_sweep.layout(name), num_labels=6))
        return sum(p.numel() for p in model.parameters())

    assert parameters("7 blocks") == 1_079_995
    assert parameters("3 blocks") == 1_080_016
    deep = gpu_sweep.arms("deep_long")
    assert {run["layout"] for run in deep} == {"7 blocks"}
    assert {run["layout"] for run in gpu_sweep.arms()} == {"3 blocks"}
    # every 80-epoch arm has seeds 42, 1 and 2, and the calibration runs are the CPU's 20-epoch recipe
    for name in ("deep_scratch_e80", "deep_hint3_e80", "deep_distilled_hint3_e80"):
        assert sorted(run["seed"] for run in deep if run["name"] == name) == [1, 2, 42]
    assert {(run["name"], run["epochs"]) for run in deep[:2]} == {
        ("deep_scratch_e20", 20),
        ("deep_distilled_hint3_e20", 20),
    }
    with pytest.raises(ValueError, match="unknown sweep"):
        gpu_sweep.arms("deep")
