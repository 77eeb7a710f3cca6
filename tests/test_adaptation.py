"""Batch-norm adaptation (AdaBN): a copy whose batch-norm statistics are exactly the new clips', the original
untouched, nothing but batch-norm buffers changed, and zero padding never in the statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import signal

from configuration_litecnn import LiteCNNConfig
from litecnn_ser.adaptation import ADAPTATION_ASSUMPTION, adapt_batch_norm
from modeling_litecnn import LiteCNNForAudioClassification

BN_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
LENGTHS = [4_000, 6_400, 4_000, 5_200, 8_000, 6_400, 4_000, 7_100, 5_200, 4_000]  # some repeated: batched together


def tiny_model() -> LiteCNNForAudioClassification:
    """The tiny LiteCNN of test_modeling_litecnn.py, its statistics those of white noise (the "training setup")."""
    torch.manual_seed(0)
    config = LiteCNNConfig(stem_channels=8, block_channels=[8, 16, 16], classifier_hidden_size=32, num_labels=6)
    model = LiteCNNForAudioClassification(config)
    source = [np.random.default_rng(seed).standard_normal(6_000).astype(np.float32) for seed in range(6)]
    return adapt_batch_norm(model, source)


def normalised(x: np.ndarray) -> np.ndarray:
    return ((x - x.mean()) / x.std()).astype(np.float32)


def target_clips() -> list[np.ndarray]:
    """Another "recording setup": a strongly low-passed channel with a resonance, then normalised as the model's
    inputs are, so the stem's filters see a different spectrum (gain alone would be normalised away)."""
    low_pass = signal.butter(2, 800, fs=16_000, output="sos")
    clips = []
    for seed, length in enumerate(LENGTHS):
        noise = np.random.default_rng(100 + seed).standard_normal(length)
        clips.append(normalised(signal.sosfilt(low_pass, noise) + 0.3 * np.sin(np.arange(length) * 0.05)))
    return clips


def norms(model) -> dict[str, torch.nn.BatchNorm1d]:
    return {name: m for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm1d)}


def bn_input_statistics(model, clips) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-channel mean and population variance of every batch norm's input in eval mode, over all frames of
    all clips, one clip at a time (independent of the implementation: forward hooks and plain torch)."""
    inputs: dict[str, list[torch.Tensor]] = {name: [] for name in norms(model)}
    handles = [
        module.register_forward_hook(lambda m, args, out, name=name: inputs[name].append(args[0][0].double()))
        for name, module in norms(model).items()
    ]
    model.eval()
    with torch.no_grad():
        for clip in clips:
            model(torch.from_numpy(clip)[None])
    for handle in handles:
        handle.remove()
    stats = {}
    for name, chunks in inputs.items():
        frames = torch.cat(chunks, dim=1)  # (C, all frames)
        stats[name] = (frames.mean(1), frames.var(1, unbiased=False))
    return stats


@pytest.fixture(scope="module")
def adapted_pair():
    model = tiny_model()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    adapted = adapt_batch_norm(model, target_clips(), batch_size=4)
    return model, before, adapted


def test_the_given_model_is_never_modified(adapted_pair):
    model, before, adapted = adapted_pair
    assert adapted is not model
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), f"{key} changed in the original model"
    assert all(a.data_ptr() != b.data_ptr() for a, b in zip(model.parameters(), adapted.parameters()))


def test_only_batch_norm_buffers_change(adapted_pair):
    model, _, adapted = adapted_pair
    original, new = model.state_dict(), adapted.state_dict()
    changed = {key for key in original if not torch.equal(original[key], new[key])}
    assert changed, "nothing was adapted"
    assert all(key.endswith(BN_BUFFERS) for key in changed), sorted(changed)
    for name in norms(model):
        assert f"{name}.running_mean" in changed and f"{name}.running_var" in changed
    assert not adapted.training


def test_running_statistics_are_those_of_the_new_clips(adapted_pair):
    """Every batch norm's running mean/variance equal its input's statistics over the new clips, with the adapted
    model in eval mode (what inference sees); the first one also against the stem conv computed directly."""
    model, _, adapted = adapted_pair
    clips = target_clips()
    for name, (mean, variance) in bn_input_statistics(adapted, clips).items():
        norm = norms(adapted)[name]
        torch.testing.assert_close(norm.running_mean.double(), mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(norm.running_var.double(), variance, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        conv = torch.cat([model.litecnn.stem.conv(torch.from_numpy(c)[None, None])[0] for c in clips], dim=1)
    stem = adapted.litecnn.stem.norm
    torch.testing.assert_close(stem.running_mean, conv.mean(1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(stem.running_var, conv.var(1, unbiased=False), rtol=1e-4, atol=1e-5)
    # and the source statistics were really different (the test would pass vacuously otherwise)
    assert not torch.allclose(model.litecnn.stem.norm.running_var, stem.running_var, rtol=0.1)


def test_logits_on_the_new_setup_change(adapted_pair):
    model, _, adapted = adapted_pair
    batch = torch.from_numpy(target_clips()[0])[None]
    with torch.no_grad():
        assert not torch.allclose(model.eval()(batch).logits, adapted(batch).logits, atol=1e-3)


def test_padding_does_not_bias_the_statistics():
    """Clips of different lengths give the statistics of computing them one at a time, whatever the batch size;
    a zero-padded batch would not (checked, so the comparison has teeth)."""
    model, clips = tiny_model(), target_clips()
    one_by_one = adapt_batch_norm(model, clips, batch_size=1)
    for batch_size in (3, 16):
        batched = adapt_batch_norm(model, clips, batch_size=batch_size)
        for name, norm in norms(batched).items():
            torch.testing.assert_close(norm.running_mean, norms(one_by_one)[name].running_mean, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(norm.running_var, norms(one_by_one)[name].running_var, rtol=1e-4, atol=1e-5)
    padded = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(c) for c in clips], batch_first=True)
    with torch.no_grad():
        padded_conv = model.litecnn.stem.conv(padded[:, None])
    padded_mean = padded_conv.mean(dim=(0, 2))
    assert not torch.allclose(padded_mean, norms(one_by_one)["litecnn.stem.norm"].running_mean, rtol=0.02)


def test_callable_and_batched_sources_give_the_same_statistics():
    model, clips = tiny_model(), target_clips()
    reference = adapt_batch_norm(model, clips)

    def batches():  # equal-length clips as (batch, samples) tensors, the rest one by one
        fours = [torch.from_numpy(c) for c in clips if c.size == 4_000]
        yield torch.stack(fours)
        yield from (c for c in clips if c.size != 4_000)

    from_callable = adapt_batch_norm(model, batches)
    for name, norm in norms(from_callable).items():
        torch.testing.assert_close(norm.running_mean, norms(reference)[name].running_mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(norm.running_var, norms(reference)[name].running_var, rtol=1e-4, atol=1e-5)


def test_bad_inputs_and_the_assumption_text():
    with pytest.raises(ValueError, match="at least one clip"):
        adapt_batch_norm(tiny_model(), [])
    with pytest.raises(ValueError, match="1-D waveforms"):
        adapt_batch_norm(tiny_model(), [np.zeros((2, 3, 4000), np.float32)])
    assert "one recording setup" in ADAPTATION_ASSUMPTION and "mix of emotions" in ADAPTATION_ASSUMPTION
