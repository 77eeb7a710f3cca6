"""LiteCNN in the transformers ModelTester style: config, shapes, loss, save/load, gradients, padding, short inputs."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForAudioClassification

from configuration_litecnn import LiteCNNConfig
from modeling_litecnn import LiteCNNForAudioClassification, LiteCNNModel

SAMPLES_1S = 16_000


class LiteCNNModelTester:
    """A tiny config so every check runs in milliseconds."""

    batch_size = 3
    seq_length = 4_000

    def get_config(self, **overrides) -> LiteCNNConfig:
        kwargs = dict(stem_channels=8, block_channels=[8, 16, 16], classifier_hidden_size=32, num_labels=6)
        return LiteCNNConfig(**{**kwargs, **overrides})

    def prepare_inputs(self):
        torch.manual_seed(0)
        input_values = torch.randn(self.batch_size, self.seq_length)
        labels = torch.tensor([0, 3, 5])
        return input_values, labels

    @staticmethod
    def expected_frames(config: LiteCNNConfig, samples: int) -> list[int]:
        """Frames out of the stem, then out of each block, by the layer arithmetic (not `frame_lengths`)."""
        frames = [(samples - config.stem_kernel_size) // config.stem_stride + 1]
        frames[0] //= config.stem_pool
        for _ in config.block_channels:
            frames.append((frames[-1] - config.pool_kernel_size) // config.pool_stride + 1)
        return frames

    @staticmethod
    def padded_batch(lengths: list[int], seed: int) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Clips of `lengths` samples, zero-padded into one batch, and its attention mask."""
        generator = torch.Generator().manual_seed(seed)
        clips = [torch.randn(n, generator=generator) for n in lengths]
        batch = torch.zeros(len(clips), max(lengths))
        mask = torch.zeros(len(clips), max(lengths), dtype=torch.long)
        for i, clip in enumerate(clips):
            batch[i, : clip.numel()] = clip
            mask[i, : clip.numel()] = 1
        return clips, batch, mask

    def get_calibrated_model(self, config: LiteCNNConfig) -> LiteCNNForAudioClassification:
        """A model in eval mode whose BatchNorm statistics are measured on random audio, as training leaves them:
        unit-scale activations and logits of order 1 (at initialisation the logits are ~0.01, where any
        tolerance or argmax comparison would say nothing)."""
        torch.manual_seed(0)
        model = LiteCNNForAudioClassification(config)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.momentum = None  # a cumulative average: one batch sets the statistics
        with torch.no_grad():
            model.train()(self.padded_batch([8_000] * 8, seed=99)[1])
        return model.eval()


@pytest.fixture
def tester() -> LiteCNNModelTester:
    return LiteCNNModelTester()


def test_default_config_has_the_papers_size():
    model = LiteCNNForAudioClassification(LiteCNNConfig())
    parameters = model.num_parameters()
    assert abs(parameters - 1.08e6) / 1.08e6 <= 0.01, parameters
    assert model.config.id2label == dict(enumerate(["anger", "disgust", "fear", "happiness", "neutral", "sadness"]))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stem_channels", 0),
        ("stem_kernel_size", -3),
        ("block_channels", []),
        ("block_channels", [64, 0]),
        ("block_kernel_size", 4),
        ("pooling", "max"),
        ("classifier_dropout", 1.0),
        ("classifier_hidden_size", 2.5),
    ],
)
def test_bad_config_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"`{field}`"):
        LiteCNNConfig(**{field: value})


def test_shapes_and_loss(tester):
    config = tester.get_config()
    model = LiteCNNForAudioClassification(config).eval()
    input_values, labels = tester.prepare_inputs()
    output = model(input_values, labels=labels)
    assert output.logits.shape == (tester.batch_size, 6)
    expected = torch.nn.functional.cross_entropy(output.logits, labels)
    torch.testing.assert_close(output.loss, expected)
    assert model(input_values).loss is None
    base = LiteCNNModel(config).eval()
    assert base(input_values).pooler_output.shape == (tester.batch_size, config.hidden_size)
    assert LiteCNNModel(tester.get_config(pooling="mean_std"))(input_values).pooler_output.shape == (3, 32)


def test_save_and_load_gives_identical_logits(tester, tmp_path):
    model = LiteCNNForAudioClassification(tester.get_config()).eval()
    input_values, _ = tester.prepare_inputs()
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert type(reloaded) is LiteCNNForAudioClassification
    torch.testing.assert_close(reloaded(input_values).logits, model(input_values).logits, rtol=0, atol=0)
    assert {"config.json", "model.safetensors", "modeling_litecnn.py", "configuration_litecnn.py"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert AutoConfig.from_pretrained(tmp_path).auto_map == {
        "AutoConfig": "configuration_litecnn.LiteCNNConfig",
        "AutoModel": "modeling_litecnn.LiteCNNModel",
        "AutoModelForAudioClassification": "modeling_litecnn.LiteCNNForAudioClassification",
    }
    assert type(AutoModel.from_pretrained(tmp_path)) is LiteCNNModel


def test_every_parameter_gets_a_finite_gradient(tester):
    model = LiteCNNForAudioClassification(tester.get_config()).train()
    input_values, labels = tester.prepare_inputs()
    model(input_values, labels=labels).loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_a_training_step_changes_the_prediction(tester):
    model = LiteCNNForAudioClassification(tester.get_config()).train()
    input_values, labels = tester.prepare_inputs()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = model(input_values, labels=labels).loss
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.5 * losses[0]  # it can fit three clips: the gradients reach the output


@pytest.mark.parametrize("stem_normalization", [None, "utterance"])
@pytest.mark.parametrize("pooling", ["mean", "mean_std"])
def test_padded_batch_equals_clips_alone(tester, pooling, stem_normalization):
    config = tester.get_config(pooling=pooling, stem_normalization=stem_normalization)
    model = LiteCNNForAudioClassification(config).eval()
    torch.manual_seed(1)
    lengths = [8_000, 5_123, 2_049]
    clips = [torch.randn(n) for n in lengths]
    batch = torch.zeros(len(clips), max(lengths))
    mask = torch.zeros(len(clips), max(lengths), dtype=torch.long)
    for i, clip in enumerate(clips):
        batch[i, : clip.numel()] = clip
        mask[i, : clip.numel()] = 1
    batched = model(batch, attention_mask=mask).logits
    for i, clip in enumerate(clips):
        alone = model(clip[None]).logits[0]
        torch.testing.assert_close(batched[i], alone, atol=1e-5, rtol=0)
    # without the mask the padding would change the result: the test can tell the difference
    assert not torch.allclose(model(batch).logits[2], model(clips[2][None]).logits[0], atol=1e-5)


def test_utterance_stem_normalization_removes_a_constant_gain_per_stem_filter(tester):
    """A recording's constant colouring multiplies each filter of the (linear) stem by a constant of its own: with
    `stem_normalization="utterance"` the logits do not move; without it (the paper's stem) they do."""
    torch.manual_seed(3)
    clip = torch.randn(1, 6_000)
    gains = torch.linspace(0.2, 5.0, tester.get_config().stem_channels)
    for normalization, invariant in ((None, False), ("utterance", True)):
        model = tester.get_calibrated_model(tester.get_config(stem_normalization=normalization))
        with torch.no_grad():
            reference = model(clip).logits
            model.litecnn.stem.conv.weight.mul_(gains[:, None, None])  # the same clip heard through a coloured chain
            coloured = model(clip).logits
        assert torch.allclose(coloured, reference, atol=1e-4) == invariant, normalization
    with pytest.raises(ValueError, match="stem_normalization"):
        tester.get_config(stem_normalization="clip")


def test_default_model_handles_half_a_second_to_thirty_seconds():
    model = LiteCNNForAudioClassification(LiteCNNConfig()).eval()
    with torch.no_grad():
        for seconds in (0.5, 2.5, 30):
            logits = model(torch.randn(1, int(seconds * SAMPLES_1S))).logits
            assert logits.shape == (1, 6) and torch.isfinite(logits).all()


def test_inputs_shorter_than_the_receptive_field_are_defined(tester):
    model = LiteCNNForAudioClassification(tester.get_config()).eval()
    minimum = model.litecnn.min_input_length
    assert model.litecnn.frame_lengths(torch.tensor([minimum]))[-1].item() == 1  # the minimum leaves one frame
    assert model.litecnn.frame_lengths(torch.tensor([minimum - 1]))[-1].item() == 0  # one sample less leaves none
    short = torch.randn(1, 50)
    logits = model(short).logits
    assert torch.isfinite(logits).all()
    padded = torch.nn.functional.pad(short, (0, minimum - 50))
    torch.testing.assert_close(logits, model(padded).logits)  # defined as zero-padding to the minimum
    # in a batch, a too-short clip (by its mask) gives the same as alone, and nothing is NaN
    batch = torch.zeros(2, 4000)
    batch[0] = torch.randn(4000)
    batch[1, :50] = short[0]
    mask = torch.zeros(2, 4000, dtype=torch.long)
    mask[0], mask[1, :50] = 1, 1
    batched = model(batch, attention_mask=mask).logits
    assert torch.isfinite(batched).all()
    torch.testing.assert_close(batched[1], logits[0], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="batch, samples"):
        model(torch.randn(4000))


@pytest.mark.parametrize("overrides", [{}, {"stem_pool": 1}, {"block_kernel_size": 5}])
def test_receptive_field_is_the_span_an_output_frame_depends_on(tester, overrides):
    """Measured, not recomputed: in a copy made linear (every max-pool an average pool, every BatchNorm shifted so
    that each ReLU passes), the gradient of one interior output frame is non-zero on exactly its receptive field."""
    model = LiteCNNModel(tester.get_config(**overrides)).eval()
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, torch.nn.MaxPool1d):
                setattr(module, name, torch.nn.AvgPool1d(child.kernel_size, child.stride))
            elif isinstance(child, torch.nn.BatchNorm1d):
                torch.nn.init.constant_(child.bias, 1e4)
    field = model.receptive_field
    waveform = torch.randn(1, 8 * field, requires_grad=True)
    frames = model(waveform).last_hidden_state
    frames[0, :, frames.shape[-1] // 2].sum().backward()
    depends_on = waveform.grad[0].nonzero().squeeze(-1)
    assert depends_on.max() - depends_on.min() + 1 == field
    assert field > model.min_input_length  # the depthwise convs widen it


def test_mean_std_pooling_keeps_gradients_finite_when_a_channel_is_constant(tester):
    """A channel constant over a clip (a BatchNorm scale of 0, one frame, a window of digital silence) has zero
    variance, where sqrt's derivative is infinite: without the floor the gradient of such a clip is NaN, and one
    NaN step turns every weight to NaN (a real 2 s run went to chance at epoch 3)."""
    model = LiteCNNForAudioClassification(tester.get_config(pooling="mean_std")).train()
    with torch.no_grad():  # four channels of the last block output a constant 1 whatever the input
        model.litecnn.blocks[-1].norm.weight[:4] = 0.0
        model.litecnn.blocks[-1].norm.bias[:4] = 1.0
    input_values, labels = tester.prepare_inputs()
    padded = torch.ones_like(input_values, dtype=torch.long)
    padded[0, 2_000:] = 0
    for attention_mask in (None, padded):  # unpadded and padded batches take different branches
        model.zero_grad()
        model(input_values, attention_mask=attention_mask, labels=labels).loss.backward()
        for name, parameter in model.named_parameters():
            assert torch.isfinite(parameter.grad).all(), (name, attention_mask is None)


# --- hidden states: the stem's output and every block's, as transformers' CNNs (ResNet, ConvNext) return them ---

LAYOUTS = {
    "tiny": {},
    "default_widths": {"stem_channels": 32, "block_channels": [64, 128, 256]},  # LiteCNNConfig()'s layout
    "seven_blocks": {"block_channels": [8, 8, 16, 16, 16, 32, 32]},
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("model_class", [LiteCNNModel, LiteCNNForAudioClassification])
def test_hidden_states_are_the_stem_then_every_block(tester, model_class, layout):
    config = tester.get_config(**LAYOUTS[layout])
    model = model_class(config).eval()
    input_values, _ = tester.prepare_inputs()
    with torch.no_grad():
        output = model(input_values, output_hidden_states=True)
    hidden_states = output.hidden_states
    assert isinstance(hidden_states, tuple)
    assert len(hidden_states) == 1 + len(config.block_channels)
    channels = [config.stem_channels, *config.block_channels]
    frames = tester.expected_frames(config, tester.seq_length)
    assert frames[-1] >= 1
    assert [tuple(h.shape) for h in hidden_states] == [(tester.batch_size, c, f) for c, f in zip(channels, frames)]
    base = model if model_class is LiteCNNModel else model.litecnn
    with torch.no_grad():
        torch.testing.assert_close(hidden_states[0], base.stem(input_values[:, None, :]), rtol=0, atol=0)
        torch.testing.assert_close(hidden_states[1], base.blocks[0](hidden_states[0]), rtol=0, atol=0)
        if model_class is LiteCNNModel:
            assert hidden_states[-1] is output.last_hidden_state
        else:  # asking for them changes no number
            torch.testing.assert_close(output.logits, model(input_values).logits, rtol=0, atol=0)


@pytest.mark.parametrize("model_class", [LiteCNNModel, LiteCNNForAudioClassification])
def test_hidden_states_are_none_unless_asked_and_the_config_flag_is_honoured(tester, model_class):
    input_values, _ = tester.prepare_inputs()
    blocks = len(tester.get_config().block_channels)
    with torch.no_grad():
        assert model_class(tester.get_config()).eval()(input_values).hidden_states is None
        assert model_class(tester.get_config()).eval()(input_values, output_hidden_states=False).hidden_states is None
        flagged = model_class(tester.get_config(output_hidden_states=True)).eval()
        assert len(flagged(input_values).hidden_states) == 1 + blocks
        assert flagged(input_values, output_hidden_states=False).hidden_states is None  # the argument wins


def test_return_dict_false_gives_the_transformers_tuples(tester):
    config = tester.get_config()
    input_values, labels = tester.prepare_inputs()
    blocks = len(config.block_channels)
    base = LiteCNNModel(config).eval()
    classifier = LiteCNNForAudioClassification(config).eval()
    with torch.no_grad():
        plain = base(input_values, return_dict=False)
        assert len(plain) == 2  # (last_hidden_state, pooler_output)
        last, pooled, hidden_states = base(input_values, output_hidden_states=True, return_dict=False)
        assert len(hidden_states) == 1 + blocks and hidden_states[-1] is last
        dict_output = base(input_values, output_hidden_states=True)
        for from_tuple, from_dict in zip(
            (last, pooled, *hidden_states), (*dict_output.to_tuple()[:2], *dict_output[2])
        ):
            torch.testing.assert_close(from_tuple, from_dict, rtol=0, atol=0)

        (logits,) = classifier(input_values, return_dict=False)
        logits_again, hidden_states = classifier(input_values, output_hidden_states=True, return_dict=False)
        assert len(hidden_states) == 1 + blocks
        torch.testing.assert_close(logits_again, logits, rtol=0, atol=0)
        loss, logits_with_loss, hidden_states = classifier(
            input_values, labels=labels, output_hidden_states=True, return_dict=False
        )
        torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, labels))
        assert len(hidden_states) == 1 + blocks
        dict_output = classifier(input_values, labels=labels, output_hidden_states=True)
        assert list(dict_output.keys()) == ["loss", "logits", "hidden_states"]
        assert len(dict_output.to_tuple()) == 3
        config_flagged = LiteCNNForAudioClassification(tester.get_config(output_hidden_states=True)).eval()
        assert len(config_flagged(input_values, return_dict=False)) == 2  # (logits, hidden_states)


def test_padded_hidden_states_equal_each_clip_alone_on_its_frames_and_pool_to_the_embedding(tester):
    model = LiteCNNForAudioClassification(tester.get_config(pooling="mean_std")).eval()
    lengths = [8_000, 5_123, 2_049]
    clips, batch, mask = tester.padded_batch(lengths, seed=1)
    with torch.no_grad():
        batched = model(batch, attention_mask=mask, output_hidden_states=True)
        embedding = model.litecnn(batch, attention_mask=mask).pooler_output
        torch.testing.assert_close(model.litecnn.pool(batched.hidden_states[-1], mask), embedding, rtol=0, atol=0)
        for i, clip in enumerate(clips):
            alone = model(clip[None], output_hidden_states=True).hidden_states
            frames = tester.expected_frames(model.config, clip.numel())
            for stage, (padded_stage, alone_stage) in enumerate(zip(batched.hidden_states, alone)):
                assert alone_stage.shape[-1] == frames[stage]
                torch.testing.assert_close(padded_stage[i, :, : frames[stage]], alone_stage[0], atol=1e-5, rtol=0)


# --- half precision with an attention mask ---
#
# Tolerance. bfloat16 keeps 8 significant bits (eps = 2**-7 ~ 7.8e-3), float16 11 (eps = 2**-10 ~ 9.8e-4). Every
# layer (stem, each block, the two linear layers) rounds its output to that precision, a relative error of at most
# eps / 2 each, which the next layers carry on to the logits. So the logits may differ from float32 by about
# `layers * eps * max|logit|`, layers = 1 + blocks + 2: 6 eps for three blocks, 10 for seven. Measured (16 clips,
# both poolings, 3 and 7 blocks, both dtypes): at most 2.4 eps * max|logit| with three blocks and 3.8 with seven,
# so the bound has a margin of ~2.5x and is still ~100x tighter than a wrong mask (a padded clip's logits then move
# by O(1)). Probabilities move by at most half of that (|d softmax_i| <= 2 p_i (1 - p_i) max|d logit| <= max|d
# logit| / 2), and the argmax cannot change where the float32 top-two margin exceeds twice the logit tolerance.
# Padded batch against clips alone, both in half precision: the same bound (the layers round the same values, only
# summation orders may differ with the batch shape), looser than float32's 1e-5 by three orders of magnitude.

HALF_DTYPES = [torch.bfloat16, torch.float16]


def half_tolerance(config: LiteCNNConfig, dtype: torch.dtype, reference_logits: torch.Tensor) -> float:
    layers = 1 + len(config.block_channels) + 2
    return layers * torch.finfo(dtype).eps * reference_logits.abs().max().item()


def half_copy(model: LiteCNNForAudioClassification, dtype: torch.dtype) -> LiteCNNForAudioClassification:
    copy = LiteCNNForAudioClassification(model.config).eval()
    copy.load_state_dict(model.state_dict())
    return copy.to(dtype)


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize(
    "overrides",
    [
        {"pooling": "mean"},
        {"pooling": "mean_std"},
        {"block_channels": [8, 8, 16, 16, 16, 32, 32]},
        {"pooling": "mean_std", "stem_normalization": "utterance"},
    ],
    ids=["mean", "mean_std", "seven_blocks", "utterance_stem"],
)
def test_half_precision_with_attention_mask_matches_float32(tester, dtype, overrides):
    config = tester.get_config(**overrides)
    model = tester.get_calibrated_model(config)
    lengths = torch.randint(2_049, 8_001, (16,), generator=torch.Generator().manual_seed(5)).tolist()
    _, batch, mask = tester.padded_batch(lengths, seed=1)
    with torch.no_grad():
        reference = model(batch, attention_mask=mask).logits
        half = half_copy(model, dtype)
        output = half(batch.to(dtype), attention_mask=mask, output_hidden_states=True)
        unmasked = half(batch.to(dtype)).logits
    assert reference.abs().max() > 0.5  # logits of a trained model's order, or the tolerance would say nothing
    assert output.logits.dtype == dtype and all(h.dtype == dtype for h in output.hidden_states)
    atol = half_tolerance(config, dtype, reference)
    torch.testing.assert_close(output.logits.float(), reference, atol=atol, rtol=0)
    torch.testing.assert_close(output.logits.float().softmax(-1), reference.softmax(-1), atol=atol / 2, rtol=0)
    top_two = reference.topk(2, dim=-1).values
    clear = top_two[:, 0] - top_two[:, 1] > 2 * atol
    assert clear.sum() >= len(lengths) // 2
    assert torch.equal(output.logits.argmax(-1)[clear], reference.argmax(-1)[clear])
    # the mask matters at this tolerance: without it the padded clips' logits move far beyond it
    assert (unmasked.float() - reference).abs().max() > 5 * atol
    # a mask handed over in the model's dtype (as a cast of every input would leave it) counts the same samples
    with torch.no_grad():
        same = half(batch.to(dtype), attention_mask=mask.to(dtype)).logits
    torch.testing.assert_close(same, output.logits, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("pooling", ["mean", "mean_std"])
def test_half_precision_padded_batch_equals_clips_alone(tester, dtype, pooling):
    config = tester.get_config(pooling=pooling)
    model = tester.get_calibrated_model(config)
    clips, batch, mask = tester.padded_batch([8_000, 5_123, 2_049, 7_001], seed=2)
    half = half_copy(model, dtype)
    with torch.no_grad():
        batched = half(batch.to(dtype), attention_mask=mask).logits
        alone = torch.stack([half(clip[None].to(dtype)).logits[0] for clip in clips])
        reference = model(batch, attention_mask=mask).logits
    atol = half_tolerance(config, dtype, reference)
    torch.testing.assert_close(batched.float(), alone.float(), atol=atol, rtol=0)
    with torch.no_grad():  # the mask is what makes them agree: without it the shortest clip is far off
        unmasked = half(batch.to(dtype)).logits
    assert (unmasked[2].float() - alone[2].float()).abs().max() > 5 * atol


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
def test_from_pretrained_in_half_precision_runs_with_an_attention_mask(tester, tmp_path, dtype):
    """The issue's reproduction: `from_pretrained(path, dtype=...)` then a padded batch with its mask."""
    config = tester.get_config(pooling="mean_std")
    model = tester.get_calibrated_model(config)
    model.save_pretrained(tmp_path)
    loaded = LiteCNNForAudioClassification.from_pretrained(tmp_path, dtype=dtype).eval()
    assert loaded.dtype == dtype
    _, batch, mask = tester.padded_batch([6_000, 3_000], seed=3)
    with torch.no_grad():
        output = loaded(batch.to(dtype), attention_mask=mask, labels=torch.tensor([1, 4]))
        embedding = loaded.litecnn(batch.to(dtype), attention_mask=mask).pooler_output
        reference = model(batch, attention_mask=mask).logits
    assert embedding.dtype == dtype and output.logits.dtype == dtype and torch.isfinite(output.loss)
    atol = half_tolerance(config, dtype, reference)
    torch.testing.assert_close(output.logits.float(), reference, atol=atol, rtol=0)


@pytest.mark.parametrize("pooling", ["mean", "mean_std"])
def test_float16_pooling_of_a_long_padded_clip_does_not_overflow(tester, pooling):
    """float16 ends at 65504: summed in float16, the masked mean of ~4,000 frames near 20 (and the variance's squared
    deviations) would be inf. Pooling sums in float32 and casts back."""
    config = tester.get_config(pooling=pooling, stem_pool=1)
    model = tester.get_calibrated_model(config)
    with torch.no_grad():  # the last block outputs ~20 + noise on every channel
        model.litecnn.blocks[-1].norm.bias.fill_(20.0)
    _, batch, mask = tester.padded_batch([64_000, 40_000], seed=4)
    with torch.no_grad():
        reference = model.litecnn(batch, attention_mask=mask)
        assert reference.last_hidden_state.shape[-1] * 20 > torch.finfo(torch.float16).max
        half = half_copy(model, torch.float16)
        embedding = half.litecnn(batch.half(), attention_mask=mask).pooler_output
        logits = half(batch.half(), attention_mask=mask).logits
        reference_logits = model(batch, attention_mask=mask).logits
    assert torch.isfinite(embedding).all() and torch.isfinite(logits).all()
    scale = half_tolerance(config, torch.float16, reference.pooler_output)  # the same bound, on the embedding
    torch.testing.assert_close(embedding.float(), reference.pooler_output, atol=scale, rtol=0)
    atol = half_tolerance(config, torch.float16, reference_logits)
    torch.testing.assert_close(logits.float(), reference_logits, atol=atol, rtol=0)
