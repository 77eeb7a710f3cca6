"""MixStyle (litecnn_ser/mixstyle.py): each clip's early-layer statistics become the drawn mix of its own and its
partner's, over the clip's real frames only; in training only, from the seed and step, and nothing is saved."""

from __future__ import annotations

import torch

from litecnn_ser.distillation import DistillationTrainer, DistillationTrainingArguments
from litecnn_ser.mixstyle import MIXSTYLE_LAYERS, clip_statistics, mix_styles, mixing_styles, mixstyle_draws


def _tiny_student():
    from configuration_litecnn import LiteCNNConfig
    from modeling_litecnn import LiteCNNForAudioClassification

    torch.manual_seed(0)
    config = LiteCNNConfig(num_labels=6, block_channels=[16, 32, 32], classifier_hidden_size=24, pooling="mean_std")
    return LiteCNNForAudioClassification(config)


def test_a_mixed_clip_has_the_drawn_mix_of_both_clips_statistics():
    """Written out: after mixing, clip b's channel means are lam*mu_b + (1-lam)*mu_perm(b), its standard deviations
    likewise (a MixStyle that returned its input, or mixed only means, keeps the clip's own)."""
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 4, 50, generator=generator) * torch.tensor([1.0, 3.0, 0.5])[:, None, None] + 2.0
    hidden[1] += 5.0  # clip 1 "recorded" louder and brighter
    lam, perm = torch.tensor([0.25, 0.5, 0.9]), torch.tensor([1, 2, 0])
    mean, std = clip_statistics(hidden, None)
    mixed_mean, mixed_std = clip_statistics(mix_styles(hidden, None, lam, perm), None)
    want_mean = lam[:, None, None] * mean + (1 - lam[:, None, None]) * mean[perm]
    want_std = lam[:, None, None] * std + (1 - lam[:, None, None]) * std[perm]
    torch.testing.assert_close(mixed_mean, want_mean, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(mixed_std, want_std, atol=1e-4, rtol=1e-4)
    assert (mixed_mean - mean).abs().max() > 1.0  # it did move them


def test_statistics_come_from_the_real_frames_only():
    """A clip padded with garbage past its length gets the same mixed real frames as with clean padding."""
    generator = torch.Generator().manual_seed(1)
    hidden = torch.randn(2, 3, 40, generator=generator)
    lengths = torch.tensor([40, 25])
    noisy = hidden.clone()
    noisy[1, :, 25:] = 100.0
    lam, perm = torch.tensor([0.3, 0.6]), torch.tensor([1, 0])
    clean, dirty = mix_styles(hidden, lengths, lam, perm), mix_styles(noisy, lengths, lam, perm)
    torch.testing.assert_close(clean[:, :, :25], dirty[:, :, :25])
    torch.testing.assert_close(clean[0], dirty[0])


def test_the_draws_depend_on_seed_and_step_only_and_p_decides_which_layers_mix():
    first, again = mixstyle_draws(42, 7, 8, 1.0, 0.1), mixstyle_draws(42, 7, 8, 1.0, 0.1)
    assert len(first) == len(MIXSTYLE_LAYERS)
    for (lam, perm), (lam2, perm2) in zip(first, again):  # a resumed run at step 7 draws the same
        assert torch.equal(lam, lam2) and torch.equal(perm, perm2)
        assert lam.shape == (8,) and sorted(perm.tolist()) == list(range(8)) and ((lam >= 0) & (lam <= 1)).all()
    assert not torch.equal(mixstyle_draws(42, 8, 8, 1.0, 0.1)[0][0], first[0][0])
    assert mixstyle_draws(42, 7, 8, 0.0, 0.1) == [None] * len(MIXSTYLE_LAYERS)
    some = [draw is not None for step in range(200) for draw in mixstyle_draws(1, step, 4, 0.5, 0.1)]
    assert 0.35 < sum(some) / len(some) < 0.65


def test_the_hooks_change_only_the_forward_inside_the_block_and_mask_padding():
    """Inside `mixing_styles`, the stem's output is the mixed one; outside, the model is untouched; with an
    attention mask, a padded clip's statistics are those of its real frames (equal to the clip scored alone)."""
    model = _tiny_student().eval()
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, 8000, generator=generator)
    plain = model(x).logits
    draws = [(torch.tensor([0.2, 0.7]), torch.tensor([1, 0])), None]
    seen = []
    hook = model.litecnn.stem.register_forward_hook(lambda module, args, output: seen.append(output))
    with mixing_styles(model, None, draws):
        mixed = model(x).logits
    hook.remove()
    assert not torch.allclose(mixed, plain, atol=1e-4)
    stem = model.litecnn.stem(x[:, None, :])
    torch.testing.assert_close(seen[0], stem)  # hooks registered before ours see the unmixed output...
    torch.testing.assert_close(model(x).logits, plain)  # ...and after the block the model is as it was

    padded = torch.cat([x, torch.zeros(2, 3000)], dim=1)
    mask = torch.cat([torch.ones(2, 8000), torch.zeros(2, 3000)], dim=1).long()
    with mixing_styles(model, mask, draws):
        masked = model(padded, attention_mask=mask).logits
    torch.testing.assert_close(masked, mixed, atol=1e-5, rtol=1e-4)


def test_the_trainer_mixes_in_training_only_and_saves_nothing_new(tmp_path):
    model = _tiny_student()
    names = set(model.state_dict())
    args = DistillationTrainingArguments(
        output_dir=str(tmp_path), report_to="none", eval_strategy="no", mixstyle_p=1.0, seed=3
    )
    trainer = DistillationTrainer(model=model, args=args)
    x, y = torch.randn(4, 8000, generator=torch.Generator().manual_seed(4)), torch.tensor([0, 1, 2, 3])
    model.eval()
    evaluated = trainer.compute_loss(model, {"input_values": x, "labels": y})
    torch.testing.assert_close(evaluated, torch.nn.functional.cross_entropy(model(x).logits, y))
    model.train()
    torch.manual_seed(5)  # the classifier's dropout
    trained = trainer.compute_loss(model, {"input_values": x, "labels": y})
    torch.manual_seed(5)
    with mixing_styles(model, None, mixstyle_draws(3, 0, 4, 1.0, 0.1)):
        expected = torch.nn.functional.cross_entropy(model(x).logits, y)
    torch.testing.assert_close(trained, expected)
    torch.manual_seed(5)
    assert not torch.allclose(trained, torch.nn.functional.cross_entropy(model(x).logits, y), atol=1e-4)
    assert set(model.state_dict()) == names
