"""The shipped model (`models/litecnn-ser`): its folder as a hub repo lays it out, and its card's numbers recomputed
on the real CREMA-D subset (skipped without `../shared`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from litecnn_ser.release import MODEL_FILES, REMOTE_CODE, card_numbers

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "litecnn-ser"


@pytest.fixture(scope="module")
def shipped() -> Path:
    if not (SHIPPED / "model.safetensors").is_file():
        pytest.skip(f"no shipped model at {SHIPPED} (make model)")
    return SHIPPED


def test_the_folder_is_a_hub_repo_with_its_remote_code_and_exports(shipped):
    for name in (*MODEL_FILES, *REMOTE_CODE, "README.md", "onnx/model.onnx", "onnx/model_int8.onnx"):
        assert (shipped / name).is_file(), name
    for name in REMOTE_CODE:  # the folder's remote code is the project's current code
        assert (shipped / name).read_text() == (ROOT / name).read_text(), name
    config = json.loads((shipped / "config.json").read_text())
    assert config["auto_map"]["AutoModelForAudioClassification"] == "modeling_litecnn.LiteCNNForAudioClassification"
    assert config["training_data"]["validation_actors"] == [1016, 1024, 1035, 1042, 1056, 1061, 1065, 1070, 1072, 1075]
    total = sum(path.stat().st_size for path in shipped.rglob("*") if path.is_file())
    assert total < 16e6  # about 10 MB: weights, two graphs, card


@pytest.mark.slow
def test_the_cards_numbers_are_the_models(shipped, real_cremad):
    """The validation accuracy of the PyTorch model and of the int8 graph, recomputed: both must be the card's."""
    from litecnn_ser.evaluation import evaluate
    from litecnn_ser.export import load_clips, onnx_logits
    from litecnn_ser.onnx_runtime import OnnxClassifier

    card = card_numbers(shipped)
    results = evaluate(str(shipped), str(real_cremad), subset="validation")
    assert results["metrics"]["num_clips"] == 820
    assert round(results["metrics"]["accuracy"], 4) == card["accuracy"]

    int8 = OnnxClassifier(shipped / "onnx" / "model_int8.onnx")
    record = json.loads((shipped / "config.json").read_text())["training_data"]
    clips, labels, _ = load_clips([str(real_cremad)], record, int8.window_s, calibration_clips=0, cache_dir=None)
    accuracy = float(np.mean(onnx_logits(int8, clips).argmax(-1) == labels))
    # onnxruntime's int8 results depend on the CPU: the same graph and onnxruntime give 0.578 on an AVX2-only AMD
    # EPYC (no VNNI) and the card's 0.582 on the machine that built it (onnxruntime documents that its u8s8 path
    # on AVX2 can saturate). Within 5 clips of 820; a wrong graph or wrong preprocessing is points off.
    assert abs(accuracy - card["int8_accuracy"]) <= 5 / 820 + 5e-4


def test_card_numbers_read_back_what_the_card_says(tmp_path):
    from litecnn_ser.release import write_card

    metrics = {"num_clips": 820, "accuracy": 0.58171, "uar": 0.585, "macro_f1": 0.58, "recall_anger": 0.69}
    evaluations = {
        "cremad": {"metrics": metrics, "speaker_adapted": {**metrics, "accuracy": 0.594}},
        "savee": {"metrics": {**metrics, "num_clips": 420, "accuracy": 0.224}, "speaker_adapted": metrics},
    }
    config = {"id2label": {"0": "anger", "1": "sadness"}, "training_data": {"validation_actors": [1016]}}
    export = {"fp32": {"accuracy": 0.5817}, "int8": {"accuracy": 0.5793}}
    card = write_card(tmp_path, config, evaluations, export, None, "make model").read_text()
    assert card_numbers(tmp_path) == {"accuracy": 0.5817, "int8_accuracy": 0.579}
    assert "| SAVEE" in card and "0.224" in card  # the cross-corpus table
    assert "make model" in card
