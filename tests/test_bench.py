"""bench.py: the counting it reports (not its timings)."""

from __future__ import annotations

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
