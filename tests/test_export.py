"""export.py (checked ONNX fp32 and int8), the torch-free runtime, and streaming."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

import numpy as np
import onnx
import onnxruntime
import pytest
import soundfile as sf
import soxr
import torch
from conftest import ROOT

import export
import predict
from configuration_litecnn import LiteCNNConfig
from data.audio import SAMPLING_RATE, load_audio, sliding_windows, stream_audio
from data.cremad import EMOTIONS
from litecnn_ser.onnx_runtime import FORMAT, ExportError, OnnxClassifier
from litecnn_ser.scoring import stream_results
from modeling_litecnn import LiteCNNForAudioClassification


@pytest.fixture(scope="module")
def exported(distilled_student, corpus_dir, dataset_cache, tmp_path_factory):
    output = tmp_path_factory.mktemp("export")
    status = export.main(
        [
            str(distilled_student[0]),
            str(output),
            "--data_dir",
            str(corpus_dir),
            "--dataset_cache_dir",
            dataset_cache,
            "--int8",
            "--calibration_clips",
            "64",
            "--max_accuracy_drop",
            "0.1",  # a 58-clip validation set of a tiny student: one clip is 1.7 points
        ]
    )
    assert status == 0
    return output


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
    real_export = export.export_onnx

    def off_by_a_bias(model, path, metadata, attention_mask=False):  # an exporter that gets one weight wrong
        broken = export.exportable(model)
        with torch.no_grad():
            broken.classifier[-1].bias[0] += 0.5
        real_export(broken, path, metadata, attention_mask)

    monkeypatch.setattr(export, "export_onnx", off_by_a_bias)
    output = tmp_path / "export"
    status = export.main(
        [str(distilled_student[0]), str(output), "--data_dir", str(corpus_dir), "--dataset_cache_dir", dataset_cache]
    )
    assert status == 1
    assert not output.exists()  # nothing written


def test_export_explains_bad_input(tmp_path, capsys):
    assert export.main([str(tmp_path / "missing"), str(tmp_path / "out"), "--data_dir", str(tmp_path)]) == 2
    assert "cannot load the model" in capsys.readouterr().err
    with pytest.raises(ExportError, match="no such file"):
        OnnxClassifier(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(ExportError, match="not a readable ONNX model"):
        OnnxClassifier(tmp_path / "bad.onnx")
    tiny = LiteCNNForAudioClassification(LiteCNNConfig(stem_channels=4, block_channels=[4], classifier_hidden_size=4))
    export.export_onnx(tiny, tmp_path / "no_metadata.onnx", {})  # an ONNX file, but not from export.py
    with pytest.raises(ExportError, match="no LiteCNN export metadata"):
        OnnxClassifier(tmp_path / "no_metadata.onnx")


@pytest.mark.parametrize("attention_mask", [False, True])
def test_export_of_mean_std_pooling_agrees_with_pytorch(tmp_path, attention_mask):
    """The non-default pooling exports too: a padded batch through ONNX gives PyTorch's logits."""
    torch.manual_seed(0)
    config = LiteCNNConfig(stem_channels=8, block_channels=[8, 16], classifier_hidden_size=16, pooling="mean_std")
    model = LiteCNNForAudioClassification(config).eval()
    export.export_onnx(model, tmp_path / "mean_std.onnx", {}, attention_mask=attention_mask)
    batch = np.random.default_rng(0).standard_normal((2, 20_000)).astype(np.float32)
    mask = np.ones_like(batch, dtype=np.int64)
    mask[1, 12_000:] = 0  # the second clip is 0.75 s of the 1.25 s batch
    feeds = {"input_values": batch, **({"attention_mask": mask} if attention_mask else {})}
    session = onnxruntime.InferenceSession(str(tmp_path / "mean_std.onnx"))
    with torch.no_grad():
        expected = model(torch.from_numpy(batch), attention_mask=torch.from_numpy(mask) if attention_mask else None)
    np.testing.assert_allclose(session.run(None, feeds)[0], expected.logits.numpy(), atol=1e-4)


def _long_clip(corpus_dir, tmp_path) -> tuple:
    """3.5 s at 44.1 kHz stereo from two synthetic clips: four 1 s windows, another rate, two channels."""
    clips = sorted(corpus_dir.glob("1002_*.wav"))[:2]
    waveform = np.concatenate([load_audio(clip) for clip in clips] * 2)[: int(3.5 * SAMPLING_RATE)]
    path = tmp_path / "stereo_44k.wav"
    sf.write(path, np.stack([soxr.resample(waveform, SAMPLING_RATE, 44_100)] * 2, axis=1), 44_100)
    return path, clips


def test_runtime_without_torch_gives_predicts_probabilities(exported, distilled_student, corpus_dir, tmp_path, capsys):
    long_clip, clips = _long_clip(corpus_dir, tmp_path)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not audio")
    files = [str(long_clip), *map(str, clips), str(broken)]

    assert predict.main([str(distilled_student[0]), *files, "--json"]) == 1
    expected = {r["file"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}

    # a fresh interpreter where importing torch (or transformers) fails: the runtime must not need them
    script = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from litecnn_ser import onnx_runtime; code = onnx_runtime.main(sys.argv[1:])\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]; sys.exit(code)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(exported / "model.onnx"), *files, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr  # the broken file only
    got = {r["file"]: r for r in map(json.loads, run.stdout.splitlines())}
    assert "cannot decode" in got[str(broken)]["error"] and "skipped" in run.stderr
    for name in files[:-1]:
        assert got[name]["windows"] == expected[name]["windows"]
        assert got[name]["label"] == expected[name]["label"]
        for emotion in EMOTIONS:
            assert got[name]["scores"][emotion] == pytest.approx(expected[name]["scores"][emotion], abs=1e-5)
    assert got[str(long_clip)]["windows"] == 4


def test_sliding_windows_cover_the_stream_in_bounded_memory():
    signal = np.arange(23, dtype=np.float32)
    chunks = (signal[i : i + 3] for i in range(0, signal.size, 3))
    got = list(sliding_windows(chunks, window=4, hop=2))
    assert [start for start, _ in got] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 19]  # the last one ends at the end
    for start, window in got:
        np.testing.assert_array_equal(window, signal[start : start + 4])
    assert [s for s, w in sliding_windows([signal[:3]], 4, 2)] == [0]  # shorter than a window: the whole stream

    # ten minutes of audio in 0.1 s chunks: what is held stays about one window, not the recording (38 MB)
    def ten_minutes():
        for _ in range(6000):
            yield np.ones(1600, dtype=np.float32)

    tracemalloc.start()
    count = sum(1 for _ in sliding_windows(ten_minutes(), SAMPLING_RATE, SAMPLING_RATE // 2))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 1199 and peak < 1_000_000


def test_streaming_from_a_file_matches_windows_classified_alone(
    exported, distilled_student, corpus_dir, tmp_path, capsys
):
    long_clip, _ = _long_clip(corpus_dir, tmp_path)
    np.testing.assert_allclose(np.concatenate(list(stream_audio(long_clip, 0.3))), load_audio(long_clip), atol=1e-4)

    classifier = OnnxClassifier(exported / "model.onnx")
    results = list(classifier.stream(stream_audio(long_clip, 0.3), hop_s=0.5))
    assert [r["start_s"] for r in results] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert results[-1]["end_s"] == 3.5
    waveform = load_audio(long_clip)
    for result in results:
        start = int(result["start_s"] * SAMPLING_RATE)
        alone = classifier.classify(waveform[start : start + SAMPLING_RATE])
        assert result["scores"] == pytest.approx(alone["scores"], abs=1e-4)

    # predict.py --stream (PyTorch) gives the same results per hop
    assert predict.main([str(distilled_student[0]), str(long_clip), "--stream", "--hop_s", "0.5", "--json"]) == 0
    torch_results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["start_s"] for r in torch_results] == [r["start_s"] for r in results]
    for ours, theirs in zip(results, torch_results):
        assert ours["scores"] == pytest.approx(theirs["scores"], abs=1e-4)

    silent = list(stream_results(classifier, [np.zeros(2 * SAMPLING_RATE, np.float32)], 1.0))
    assert all(r["label"] is None and r["silent"] for r in silent)


def test_int8_can_keep_the_stem_in_fp32(tmp_path):
    """--int8_fp32_stem: the convolution that reads the waveform gets float input and float weights, every other
    convolution stays quantised; without it the stem reads dequantised uint8 like the rest."""
    torch.manual_seed(0)
    config = LiteCNNConfig(stem_channels=8, block_channels=[8, 16], classifier_hidden_size=16)
    export.export_onnx(LiteCNNForAudioClassification(config).eval(), tmp_path / "fp32.onnx", {})
    calibration = [np.random.default_rng(i).standard_normal(8000).astype(np.float32) for i in range(8)]
    clip = np.random.default_rng(99).standard_normal((1, 8000)).astype(np.float32)
    expected = onnxruntime.InferenceSession(str(tmp_path / "fp32.onnx")).run(None, {"input_values": clip})[0]
    for fp32_stem in (False, True):
        path = tmp_path / f"int8_{fp32_stem}.onnx"
        kept = export.quantize_int8(tmp_path / "fp32.onnx", path, calibration, {}, fp32_stem=fp32_stem)
        graph = onnx.load(str(path))
        producers = {name: node.op_type for name, node in export.graph_links(graph.graph)[0].items()}
        convolutions = [node for node in graph.graph.node if node.op_type == "Conv"]
        stem = next(node for node in convolutions if node.name == export.first_convolution(graph))
        assert len(kept) == int(fp32_stem) and (stem.name in kept) == fp32_stem
        # quantised input and weights arrive through DequantizeLinear; the fp32 stem reads neither
        assert (producers.get(stem.input[0]) == "DequantizeLinear") != fp32_stem
        assert (producers.get(stem.input[1]) == "DequantizeLinear") != fp32_stem
        assert all(producers.get(node.input[0]) == "DequantizeLinear" for node in convolutions if node is not stem)
        logits = onnxruntime.InferenceSession(str(path)).run(None, {"input_values": clip})[0]
        np.testing.assert_allclose(logits, expected, atol=0.2)  # still the same model, to int8's precision
