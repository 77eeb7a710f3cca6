"""One line, status 2, instead of a traceback: a truncated model.safetensors, a missing local folder, a missing
shipped model, in every entry point that loads a model (predict.py, eval.py, export.py, train_student.py --teacher)."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import Wav2Vec2FeatureExtractor

import eval as eval_script
import export
import predict
from configuration_litecnn import LiteCNNConfig
from litecnn_ser import loading, onnx_runtime
from litecnn_ser.loading import SHIPPED_MODEL, ModelLoadError, check_model_path, looks_like_local_path
from litecnn_ser.teachers import open_teacher
from modeling_litecnn import LiteCNNForAudioClassification

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def truncated_model(tmp_path) -> Path:
    """A tiny saved LiteCNN whose model.safetensors lost its second half (an interrupted download)."""
    folder = tmp_path / "truncated"
    config = LiteCNNConfig(stem_channels=8, block_channels=[8, 16, 16], classifier_hidden_size=32, num_labels=6)
    LiteCNNForAudioClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return folder


def one_line_naming(err: str, folder: Path) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {folder / 'model.safetensors'}: not a valid safetensors file (truncated")
    assert "re-download or re-train it" in lines[0]


def test_predict_reports_truncated_weights_in_one_line(truncated_model, tmp_path, capsys):
    clip = tmp_path / "clip.wav"
    assert predict.main([str(truncated_model), str(clip)]) == 2  # the old form: the model first
    one_line_naming(capsys.readouterr().err, truncated_model)
    assert predict.main(["--model", str(truncated_model), str(clip)]) == 2
    one_line_naming(capsys.readouterr().err, truncated_model)


def test_eval_reports_truncated_weights_in_one_line(truncated_model, tmp_path, capsys):
    assert eval_script.main([str(truncated_model), str(tmp_path)]) == 2
    one_line_naming(capsys.readouterr().err, truncated_model)
    assert eval_script.main([str(tmp_path), "--model", str(truncated_model)]) == 2
    one_line_naming(capsys.readouterr().err, truncated_model)


def test_export_reports_truncated_weights_in_one_line(truncated_model, tmp_path, capsys):
    assert export.main([str(truncated_model), str(tmp_path / "out"), "--data_dir", str(tmp_path)]) == 2
    one_line_naming(capsys.readouterr().err, truncated_model)
    assert not (tmp_path / "out").exists()


def test_train_student_teacher_with_truncated_weights_is_refused_in_one_line(truncated_model):
    with pytest.raises(SystemExit) as exit_info:
        open_teacher(str(truncated_model))  # what train_student.py --teacher FOLDER opens, before any data
    message = str(exit_info.value.code)
    assert message.startswith(f"error: {truncated_model / 'model.safetensors'}: not a valid safetensors file")
    assert "\n" not in message


def test_a_missing_local_folder_is_no_such_folder_not_a_hub_id(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    clip = str(tmp_path / "clip.wav")
    assert predict.main(["./nowhere", clip]) == 2
    assert capsys.readouterr().err.strip() == "error: ./nowhere: no such folder"
    assert predict.main(["--model", "./nowhere", clip]) == 2
    assert capsys.readouterr().err.strip() == "error: ./nowhere: no such folder"
    assert eval_script.main(["./nowhere", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "error: ./nowhere: no such folder"
    assert export.main(["./nowhere", "out", "--data_dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "error: ./nowhere: no such folder"


@pytest.mark.parametrize(
    "model, local",
    [
        ("./student", True),
        ("../student", True),
        ("/abs/student", True),
        ("~/student", True),
        ("student/", True),
        ("runs/a/student", True),
        ("org/litecnn-cremad", False),
        ("litecnn-cremad", False),
    ],
)
def test_what_looks_like_a_local_path(model, local):
    assert looks_like_local_path(model) is local


def test_hub_ids_are_left_to_the_hub_and_files_are_not_models(tmp_path):
    check_model_path("org/not-in-the-cache")  # no error here: loading says what the hub says
    (tmp_path / "clip.wav").write_bytes(b"RIFF")
    with pytest.raises(ModelLoadError, match="not a model folder"):
        check_model_path(tmp_path / "clip.wav")


def test_the_shipped_model_is_found_from_the_repository_root_and_its_absence_explained(tmp_path, monkeypatch, capsys):
    assert SHIPPED_MODEL == ROOT / "models" / "litecnn-ser"
    assert loading.SHIPPED_ONNX == SHIPPED_MODEL / "onnx" / "model_int8.onnx"
    missing = tmp_path / "models" / "litecnn-ser"
    for module in (loading, predict, eval_script):
        monkeypatch.setattr(module, "SHIPPED_MODEL", missing)
    monkeypatch.setattr(onnx_runtime, "SHIPPED_ONNX", missing / "onnx" / "model_int8.onnx")
    monkeypatch.chdir(tmp_path)
    expected = f"error: no shipped model at {missing}: run `make model`, or give a model"
    clip = str(tmp_path / "clip.wav")
    assert predict.main([clip]) == 2  # one audio path: the shipped model
    assert capsys.readouterr().err.strip() == expected
    assert predict.main([clip, clip]) == 2  # an audio file first is audio, not the model
    assert capsys.readouterr().err.strip() == expected
    assert eval_script.main([str(tmp_path)]) == 2  # DATA_DIR only
    assert capsys.readouterr().err.strip() == expected
    assert onnx_runtime.main([clip]) == 2  # audio paths only: the shipped int8 graph
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no shipped model at {missing / 'onnx' / 'model_int8.onnx'}: run `make model`")
