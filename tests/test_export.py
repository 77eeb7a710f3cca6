"""export.py and litecnn_ser.export: checked ONNX fp32 and int8 models that carry their metadata."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

import export
from configuration_litecnn import LiteCNNConfig
from data.cremad import EMOTIONS
from litecnn_ser import export as onnx_export
from litecnn_ser.onnx_runtime import FORMAT, ExportError, OnnxClassifier
from modeling_litecnn import LiteCNNForAudioClassification


def test_export_writes_checked_models_that_carry_their_metadata(exported, distilled_student):
    report = json.loads((exported / "export_report.json").read_text())
    assert report["fp32"]["max_abs_logit_difference_vs_pytorch"] < 1e-4
    assert report["fp32"]["argmax_agreement_vs_pytorch"] == 1.0
    assert report["fp32"]["accuracy"] == pytest.approx(report["pytorch_accuracy"])
    assert report["int8"]["accuracy"] >= report["fp32"]["accuracy"] - 0.1
    assert report["command"].startswith("python export.py ")
    assert (exported / "model_int8.onnx").stat().st_size * 3.5 < (exported / "model.onnx").stat().st_size

    metadata = {p.key: p.value for p in onnx.load(str(exported / "model_int8.onnx")).metadata_props}
    assert metadata["format"] == FORMAT and json.loads(metadata["labels"]) == list(EMOTIONS)
    assert metadata["sampling_rate"] == "16000" and metadata["do_normalize"] == "true"
    assert float(metadata["window_s"]) == float(metadata["stream_window_s"]) == 1.0  # the paper: 1 s windows

    # dynamic batch and length: a batch of 3 short clips and one 2.7 s clip, against PyTorch
    from transformers import AutoModelForAudioClassification

    model = AutoModelForAudioClassification.from_pretrained(distilled_student[0]).eval()
    classifier = OnnxClassifier(exported / "model.onnx")
    for shape in ((3, 8000), (1, 43_200)):
        batch = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(batch)).logits.numpy()
        np.testing.assert_allclose(classifier.logits(batch), expected, atol=1e-4)


def test_export_refuses_an_onnx_model_that_disagrees(
    distilled_student, corpus_dir, dataset_cache, tmp_path, monkeypatch
):
    real_export = onnx_export.export_onnx

    def off_by_a_bias(model, path, metadata, attention_mask=False):  # an exporter that gets one weight wrong
        broken = onnx_export.exportable(model)
        with torch.no_grad():
            broken.classifier[-1].bias[0] += 0.5
        real_export(broken, path, metadata, attention_mask)

    monkeypatch.setattr(onnx_export, "export_onnx", off_by_a_bias)
    output = tmp_path / "export"
    status = export.main(
        [str(distilled_student[0]), str(output), "--data_dir", str(corpus_dir), "--dataset_cache_dir", dataset_cache]
    )
    assert status == 1
    assert not output.exists()  # nothing written


def test_export_explains_bad_input(tmp_path, capsys):
    assert export.main([str(tmp_path / "missing"), str(tmp_path / "out"), "--data_dir", str(tmp_path)]) == 2
    assert f"error: {tmp_path / 'missing'}: no such folder" in capsys.readouterr().err
    with pytest.raises(ExportError, match="no such file"):
        OnnxClassifier(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(ExportError, match="not a readable ONNX model"):
        OnnxClassifier(tmp_path / "bad.onnx")
    tiny = LiteCNNForAudioClassification(LiteCNNConfig(stem_channels=4, block_channels=[4], classifier_hidden_size=4))
    onnx_export.export_onnx(tiny, tmp_path / "no_metadata.onnx", {})  # an ONNX file, but not from export.py
    with pytest.raises(ExportError, match="no LiteCNN export metadata"):
        OnnxClassifier(tmp_path / "no_metadata.onnx")


@pytest.mark.parametrize("stem_normalization", [None, "utterance"])
@pytest.mark.parametrize("attention_mask", [False, True])
def test_export_of_mean_std_pooling_agrees_with_pytorch(tmp_path, attention_mask, stem_normalization):
    """The non-default pooling and stem normalisation export too: a padded batch through ONNX gives PyTorch's
    logits."""
    torch.manual_seed(0)
    config = LiteCNNConfig(
        stem_channels=8,
        block_channels=[8, 16],
        classifier_hidden_size=16,
        pooling="mean_std",
        stem_normalization=stem_normalization,
    )
    model = LiteCNNForAudioClassification(config).eval()
    onnx_export.export_onnx(model, tmp_path / "mean_std.onnx", {}, attention_mask=attention_mask)
    batch = np.random.default_rng(0).standard_normal((2, 20_000)).astype(np.float32)
    mask = np.ones_like(batch, dtype=np.int64)
    mask[1, 12_000:] = 0  # the second clip is 0.75 s of the 1.25 s batch
    feeds = {"input_values": batch, **({"attention_mask": mask} if attention_mask else {})}
    session = onnxruntime.InferenceSession(str(tmp_path / "mean_std.onnx"))
    with torch.no_grad():
        expected = model(torch.from_numpy(batch), attention_mask=torch.from_numpy(mask) if attention_mask else None)
    np.testing.assert_allclose(session.run(None, feeds)[0], expected.logits.numpy(), atol=1e-4)


def test_int8_can_keep_the_stem_in_fp32(tmp_path):
    """--int8_fp32_stem: the convolution that reads the waveform gets float input and float weights, every other
    convolution stays quantised; without it the stem reads dequantised uint8 like the rest."""
    torch.manual_seed(0)
    config = LiteCNNConfig(stem_channels=8, block_channels=[8, 16], classifier_hidden_size=16)
    onnx_export.export_onnx(LiteCNNForAudioClassification(config).eval(), tmp_path / "fp32.onnx", {})
    calibration = [np.random.default_rng(i).standard_normal(8000).astype(np.float32) for i in range(8)]
    clip = np.random.default_rng(99).standard_normal((1, 8000)).astype(np.float32)
    expected = onnxruntime.InferenceSession(str(tmp_path / "fp32.onnx")).run(None, {"input_values": clip})[0]
    for fp32_stem in (False, True):
        path = tmp_path / f"int8_{fp32_stem}.onnx"
        kept = onnx_export.quantize_int8(tmp_path / "fp32.onnx", path, calibration, {}, fp32_stem=fp32_stem)
        graph = onnx.load(str(path))
        producers = {name: node.op_type for name, node in onnx_export.graph_links(graph.graph)[0].items()}
        convolutions = [node for node in graph.graph.node if node.op_type == "Conv"]
        stem = next(node for node in convolutions if node.name == onnx_export.first_convolution(graph))
        assert len(kept) == int(fp32_stem) and (stem.name in kept) == fp32_stem
        # quantised input and weights arrive through DequantizeLinear; the fp32 stem reads neither
        assert (producers.get(stem.input[0]) == "DequantizeLinear") != fp32_stem
        assert (producers.get(stem.input[1]) == "DequantizeLinear") != fp32_stem
        assert all(producers.get(node.input[0]) == "DequantizeLinear" for node in convolutions if node is not stem)
        logits = onnxruntime.InferenceSession(str(path)).run(None, {"input_values": clip})[0]
        np.testing.assert_allclose(logits, expected, atol=0.2)  # still the same model, to int8's precision
