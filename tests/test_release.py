"""The shipped models (`models/litecnn-ser`, CREMA-D's recipe; `models/litecnn-ser-mix`, the cross-corpus recipe):
each folder as a hub repo lays it out, and its card's numbers recomputed on the real CREMA-D subset (skipped without
`../shared`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from litecnn_ser.release import MODEL_FILES, REMOTE_CODE, card_numbers

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {"litecnn-ser": "make model", "litecnn-ser-mix": "make model-mix"}  # folder: the command that builds it
EMOTIONS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")


@pytest.fixture(scope="module", params=list(SHIPPED))
def shipped(request) -> Path:
    folder = ROOT / "models" / request.param
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"no shipped model at {folder} ({SHIPPED[request.param]})")
    return folder


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


def _mix_config() -> dict:
    """A shipped-model config as a student trained on CREMA-D + SAVEE + TESS records it."""
    data = {
        "validation_actors": [1016, 1024],
        "num_train": 4279,
        "num_validation": 820,
        "sources": [
            {"corpus": "cremad", "clips": 4079, "speakers": 50},
            {"corpus": "savee", "clips": 420, "speakers": 4},
            {"corpus": "tess", "clips": 600, "speakers": 2},
        ],
        "max_duration_s": 2.0,
        "channel_augmentation": ["reverb", "codec"],
        "trim_silence": True,
    }
    return {
        "id2label": {str(index): name for index, name in enumerate(EMOTIONS)},
        "training_data": data,
        "distillation": {"alpha": 0.5, "temperature": 2.0, "members": [{"teacher_model_type": "crowd votes"}]},
        "stem_normalization": "utterance",
        "mixup": {"alpha": 0.4},
        "feature_hint": {"feature_set": "eGeMAPSv02", "hint_weight": 3, "normalization": "per speaker"},
    }


def _evaluations(**others: float) -> dict:
    metrics = {"num_clips": 820, "accuracy": 0.6, "uar": 0.6, "macro_f1": 0.6}
    evaluations = {"cremad": {"metrics": metrics, "speaker_adapted": metrics}}
    for name, accuracy in others.items():
        evaluations[name] = {"metrics": {**metrics, "num_clips": 100, "accuracy": accuracy}}
    return evaluations


def test_a_mix_models_card_never_scores_a_corpus_it_heard_as_unseen(tmp_path):
    from litecnn_ser.release import ReleaseError, write_card

    with pytest.raises(ReleaseError, match="savee is in the model's training data"):
        write_card(tmp_path, _mix_config(), _evaluations(savee=0.9), {}, None, "make model")
    card = write_card(tmp_path, _mix_config(), _evaluations(ravdess=0.41), {}, None, "make model").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["datasets"] == ["crema-d", "savee", "tess"]
    assert "SAVEE and TESS were in its training mix" in card
    assert "| RAVDESS (" in card and "| 100 | 0.410 / 0.600 | n/a | n/a |" in card  # never heard: keeps its row
    assert "does not travel well" not in card  # 0.41 is more than twice chance (1/6)
    # what the recipe did, as recorded: teacher, robustness levers, licences of every corpus
    for said in (
        "crowd votes",
        "Beta(0.4, 0.4)",
        "normalised per clip",
        "reverb, codec",
        "silence",
        "SAVEE:",
        "TESS:",
    ):
        assert said in card, said
    assert "40 adult actors" not in card and "in one studio" not in card


def test_the_does_not_travel_verdict_follows_the_numbers(tmp_path):
    from litecnn_ser.release import write_card

    config = {"id2label": {str(index): name for index, name in enumerate(EMOTIONS)}, "training_data": {}}
    near_chance = write_card(tmp_path, config, _evaluations(savee=0.22), {}, None, "make model").read_text()
    assert "does not travel well" in near_chance and "chance is about 0.17" in near_chance
    travels = write_card(tmp_path, config, _evaluations(savee=0.45), {}, None, "make model").read_text()
    assert "does not travel well" not in travels


def test_the_recipes_leave_one_corpus_out_rows_go_on_the_card(tmp_path):
    from litecnn_ser.release import ReleaseError, read_loco, write_card

    folder = tmp_path / "loco_robust"
    folder.mkdir()
    with pytest.raises(ReleaseError, match="no leave-one-corpus-out rows"):
        read_loco(folder)
    row = {
        "fold": "savee",
        "trained_on": ["cremad", "tess"],
        "scored_on": "savee",
        "one_clip": {"accuracy": 0.4321, "uar": 0.4111, "num_clips": 420},
        "speaker_adapted": {"accuracy": 0.5556, "uar": 0.5},
        "recording_adapted": {"accuracy": 0.4762, "uar": 0.45},
    }
    (folder / "savee.json").write_text(json.dumps(row))
    none = {**row, "fold": "none", "trained_on": ["cremad", "savee", "tess"], "scored_on": "cremad"}
    (folder / "none.json").write_text(json.dumps(none))  # CREMA-D's validation actors: not a corpus left out
    assert [fold["fold"] for fold in read_loco(folder)[1]] == ["savee"]
    card = write_card(
        tmp_path, _mix_config(), _evaluations(), {}, None, "make model", "configs/robust.json", read_loco(folder)
    ).read_text()
    assert "| SAVEE | CREMA-D + TESS | 420 | 0.432 / 0.411 | 0.476 | 0.556 | one seed | not kept |" in card
    # the same recipe rerun with other seeds (loco.py's NAME_seedN beside it): the card gives their mean ± sd
    for seed, accuracy in ((1, 0.3321), (2, 0.3821)):
        (tmp_path / f"loco_robust_seed{seed}").mkdir()
        rerun = {**row, "one_clip": {**row["one_clip"], "accuracy": accuracy}, "train_command": f"x --seed {seed}"}
        (tmp_path / f"loco_robust_seed{seed}" / "savee.json").write_text(json.dumps(rerun))
    (tmp_path / "loco_robust_seed2_long").mkdir()  # another recipe whose name starts the same: not a seed
    (tmp_path / "loco_robust_seed2_long" / "savee.json").write_text(json.dumps({**row, "train_command": "--seed 9"}))
    recall = {"anger": 0.3, "disgust": 0.15, "fear": 0.0833, "happiness": 0.45, "neutral": 0.825, "sadness": 0.0167}
    own = {**row, "one_clip": {**row["one_clip"], "recall": recall}, "train_command": "train_student.py --seed 42"}
    (folder / "savee.json").write_text(json.dumps(own))
    card = write_card(
        tmp_path, _mix_config(), _evaluations(), {}, None, "make model", "configs/robust.json", read_loco(folder)
    ).read_text()
    assert "| 0.432 / 0.411 | 0.476 | 0.556 | 0.382 ± 0.050 (seeds 42, 1, 2) | fear, sadness |" in card
    assert "experiments/results/loco_robust/" in card and "`configs/robust.json`" in card
    assert f'model="models/{tmp_path.name}"' in card  # its usage loads this folder, not the other shipped model
