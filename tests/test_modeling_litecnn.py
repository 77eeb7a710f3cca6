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


@pytest.mark.parametrize("pooling", ["mean", "mean_std"])
def test_padded_batch_equals_clips_alone(tester, pooling):
    model = LiteCNNForAudioClassification(tester.get_config(pooling=pooling)).eval()
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
