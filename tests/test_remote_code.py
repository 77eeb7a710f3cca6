"""An exported LiteCNN loads without this repository: from a folder and from a hub repo id in the HF cache layout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from transformers import Wav2Vec2FeatureExtractor

from configuration_litecnn import LiteCNNConfig
from modeling_litecnn import LiteCNNForAudioClassification

EMOTIONS = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
REPO_ID = "org/litecnn-cremad"

# Runs in a fresh interpreter, outside the repository, with the hub offline: only what a user of the hub has.
USER_SCRIPT = r"""
import json, sys
import numpy as np
import torch
from transformers import AutoModel, AutoModelForAudioClassification, pipeline

source = sys.argv[1]
assert "modeling_litecnn" not in sys.modules
rng = np.random.default_rng(0)
result = {}
base = AutoModel.from_pretrained(source, trust_remote_code=True)
result["base_class"] = type(base).__name__
result["base_module"] = type(base).__module__
classifier = AutoModelForAudioClassification.from_pretrained(source, trust_remote_code=True).eval()
result["classifier_class"] = type(classifier).__name__
clip = torch.from_numpy(rng.standard_normal(16000).astype(np.float32))[None]
result["embedding_shape"] = list(base(clip).pooler_output.shape)
classify = pipeline("audio-classification", model=source, trust_remote_code=True, top_k=None)
result["predictions"] = {}
for seconds in (1.0, 2.5):
    audio = (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)
    result["predictions"][str(seconds)] = classify(audio)
print("RESULT" + json.dumps(result))
"""


def export_folder(folder: Path) -> Path:
    """What train_student.py exports, minus the training: weights, config with auto_map, code, preprocessing."""
    torch_model = LiteCNNForAudioClassification(LiteCNNConfig()).eval()
    torch_model.save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True).save_pretrained(
        folder
    )
    return folder


def place_in_hub_cache(folder: Path, hub_cache: Path, repo_id: str) -> None:
    """The layout `hf_hub_download` leaves behind: models--org--name/{refs/main, snapshots/<commit>/...}."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub_cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)


def run_as_user(source: str, cwd: Path, hf_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(hf_home), HF_HUB_CACHE=str(hf_home / "hub"))
    process = subprocess.run(
        [sys.executable, "-c", USER_SCRIPT, source], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 0, process.stderr[-3000:]
    line = next(line for line in process.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line.removeprefix("RESULT"))


def check(result: dict) -> None:
    assert result["base_class"] == "LiteCNNModel"
    assert result["base_module"].startswith("transformers_modules.")  # the copied file, not this repository's
    assert result["classifier_class"] == "LiteCNNForAudioClassification"
    assert result["embedding_shape"] == [1, 256]
    for seconds, predictions in result["predictions"].items():
        assert sorted(p["label"] for p in predictions) == EMOTIONS, seconds
        assert abs(sum(p["score"] for p in predictions) - 1.0) < 1e-4, seconds


def test_folder_loads_with_trust_remote_code_outside_the_repo(tmp_path):
    folder = export_folder(tmp_path / "litecnn")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    check(run_as_user(str(folder), outside, tmp_path / "hf_home"))


def test_hub_repo_id_loads_from_the_cache_layout(tmp_path):
    folder = export_folder(tmp_path / "litecnn")
    hf_home = tmp_path / "hf_home"
    place_in_hub_cache(folder, hf_home / "hub", REPO_ID)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    check(run_as_user(REPO_ID, outside, hf_home))


def test_shipped_layout_loads_by_relative_path_and_from_any_working_directory(tmp_path):
    """`pipeline(..., model="models/litecnn-ser")` as the README writes it (a relative path, a hyphen in the folder's
    name) from the folder above `models/`, and by absolute path from this repository's root (where the repository's
    own modeling_litecnn.py could be imported instead of the folder's copy) and from elsewhere."""
    repo = tmp_path / "repo"
    folder = export_folder(repo / "models" / "litecnn-ser")
    hf_home = tmp_path / "hf_home"
    check(run_as_user("models/litecnn-ser", repo, hf_home))
    check(run_as_user(str(folder), Path(__file__).resolve().parents[1], hf_home))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check(run_as_user(str(folder), elsewhere, hf_home))
