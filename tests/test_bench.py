"""bench.py: the counting it reports (not its timings)."""

from __future__ import annotations

import json

import pytest
import torch

import bench
from configuration_litecnn import LiteCNNConfig
from data.audio import SAMPLING_RATE
from modeling_litecnn import LiteCNNForAudioClassification


def test_mac_count_matches_the_arithmetic():
    model = LiteCNNForAudioClassification(LiteCNNConfig()).eval()
    total, per_layer = bench.count_macs(model, torch.randn(1, SAMPLING_RATE))
    stem_frames = (SAMPLING_RATE - 80) // 2 + 1
    assert per_layer["LiteCNNForAudioClassification.litecnn.stem.conv"] == 32 * 80 * stem_frames
    assert per_layer["LiteCNNForAudioClassification.classifier.0"] == 256 * 3928
    assert 45e6 < total < 55e6


def test_layout_variants_keep_the_papers_size():
    for overrides in bench.VARIANTS.values():
        parameters = bench.litecnn_of_paper_size(**overrides).num_parameters()
        assert abs(parameters - 1.08e6) / 1.08e6 < 0.001, (overrides, parameters)


def test_onnx_exports_agree_with_pytorch_and_int8_is_smaller():
    model = LiteCNNForAudioClassification(LiteCNNConfig())
    fp32, int8 = bench.bench_onnx(model, runs=2, batch=2, threads=1)
    assert fp32["max_abs_diff_vs_torch"] < 1e-3
    assert int8["disk_mb"] < fp32["disk_mb"] / 3.5  # the size target: int8 weights, fp32 stays ~4.4 MB


def test_bench_times_a_trained_models_own_graphs_beside_wav2vec2_base(distilled_student, exported, tmp_path):
    output = tmp_path / "bench.json"
    args = ["--model", str(distilled_student[0]), "--onnx_dir", str(exported), "--no_large"]
    result = bench.main([*args, "--runs", "2", "--batch", "2", "--output", str(output)])
    names = [row["model"] for row in result["rows"]]
    folder = distilled_student[0].name
    assert names[:3] == [
        f"LiteCNN `{folder}` (PyTorch)",
        *(f"LiteCNN `{folder}` (ONNX Runtime, {k})" for k in ("fp32", "int8")),
    ]
    assert any(name.startswith("wav2vec2-base") for name in names)
    by_name = {row["model"]: row for row in result["rows"]}
    assert result["rows"][1]["disk_mb"] == pytest.approx((exported / "model.onnx").stat().st_size / 1e6)
    release = json.loads(output.read_text())["release"]
    assert release["int8_ms"] == by_name[names[2]]["latency_ms_median"]
    assert release["wav2vec2_base_ms"] > release["fp32_ms"]
    with pytest.raises(SystemExit, match="model_int8.onnx"):
        bench.main(["--model", str(distilled_student[0]), "--onnx_dir", str(tmp_path), "--output", str(output)])
