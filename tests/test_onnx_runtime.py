"""litecnn_ser.onnx_runtime: the torch-free runtime gives predict.py's probabilities, whole clips and streamed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import ROOT

import predict
from configuration_litecnn import LiteCNNConfig
from data.audio import SAMPLING_RATE, load_audio, stream_audio
from data.cremad import EMOTIONS
from litecnn_ser.onnx_runtime import OnnxClassifier
from litecnn_ser.scoring import config_labels, stream_results


def _long_clip(corpus_dir, tmp_path) -> tuple:
    """3.5 s at 44.1 kHz stereo from two synthetic clips: four 1 s windows, another rate, two channels."""
    clips = sorted(corpus_dir.glob("1002_*.wav"))[:2]
    waveform = np.concatenate([load_audio(clip) for clip in clips] * 2)[: int(3.5 * SAMPLING_RATE)]
    path = tmp_path / "stereo_44k.wav"
    sf.write(path, np.stack([soxr.resample(waveform, SAMPLING_RATE, 44_100)] * 2, axis=1), 44_100)
    return path, clips


def test_label_names_follow_the_output_units_not_the_order_of_the_keys(tmp_path):
    # a config whose label map was written in another order (by hand, or a json whose keys are not sorted)
    shuffled = {5: "sad", 0: "ang", 3: "hap", 1: "dis", 4: "neu", 2: "fea"}
    config = LiteCNNConfig(num_labels=6, id2label=shuffled, label2id={v: k for k, v in shuffled.items()})
    config.save_pretrained(tmp_path)  # json keys become strings; the loaded config maps them back to ints
    for each in (config, LiteCNNConfig.from_pretrained(tmp_path)):
        assert config_labels(each) == ["ang", "dis", "fea", "hap", "neu", "sad"]


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
