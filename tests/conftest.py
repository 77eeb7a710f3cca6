"""Shared fixtures: a synthetic CREMA-D corpus, a tiny teacher and a distilled student, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from transformers import TrainerCallback

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the hub is unreachable here: fail fast instead of retrying
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]

REAL_CREMAD = ROOT.parent / "shared" / "datasets" / "crema-d" / "AudioFLAC"
TINY_WAV2VEC2 = ROOT / "tests" / "fixtures" / "tiny_wav2vec2.json"

# A run short enough for the suite: tiny models, a few epochs, no checkpoints beyond what a test needs.
QUICK = [
    "--disable_tqdm",
    "true",
    "--report_to",
    "none",
    "--save_total_limit",
    "1",
    "--dataloader_pin_memory",
    "false",
]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """12 actors x 4 sentences x 6 emotions = 288 synthetic clips, with VideoDemographics.csv beside them."""
    from data.synthetic import write_corpus

    return write_corpus(tmp_path_factory.mktemp("synthetic"), actors=12, sentences=4, seed=0)


@pytest.fixture(scope="session")
def dataset_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("datasets_cache"))


@pytest.fixture(scope="session")
def tiny_teacher(corpus_dir, dataset_cache, tmp_path_factory) -> tuple[Path, dict]:
    """A tiny wav2vec2 trained from scratch on the synthetic corpus: (its folder, its final metrics)."""
    import train_teacher

    output = tmp_path_factory.mktemp("teacher")
    metrics = train_teacher.main(
        [
            "--config_name",
            str(TINY_WAV2VEC2),
            "--data_dir",
            str(corpus_dir),
            "--dataset_cache_dir",
            dataset_cache,
            "--output_dir",
            str(output),
            "--num_train_epochs",
            "30",
            "--learning_rate",
            "3e-3",
            *QUICK,
        ]
    )
    return output, metrics


@pytest.fixture(scope="session")
def distilled_student(tiny_teacher, corpus_dir, dataset_cache, tmp_path_factory) -> tuple[Path, dict]:
    """LiteCNN distilled from the tiny teacher: (its exported folder, its final metrics)."""
    import train_student

    output = tmp_path_factory.mktemp("student")
    metrics = train_student.main(
        [
            "--teacher",
            str(tiny_teacher[0]),
            "--data_dir",
            str(corpus_dir),
            "--dataset_cache_dir",
            dataset_cache,
            "--output_dir",
            str(output),
            "--num_train_epochs",
            "12",
            "--learning_rate",
            "1e-3",
            *QUICK,
        ]
    )
    return output, metrics


class Interrupt(TrainerCallback):
    """Dies in the middle of the second epoch, after the first epoch's checkpoint: what a kill leaves behind."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt(f"killed at step {state.global_step}")


def interrupted_then_resumed(main, common: list[str], output, monkeypatch, steps_per_epoch: int) -> dict:
    """Runs `main` until it is killed in epoch 2, then resumes it from the epoch-1 checkpoint; the final metrics."""
    from litecnn_ser import trainer

    original = trainer.early_stopping_callbacks
    interrupt = Interrupt(steps_per_epoch + 3)
    monkeypatch.setattr(trainer, "early_stopping_callbacks", lambda args: [*original(args), interrupt])
    with pytest.raises(KeyboardInterrupt):
        main([*common, "--output_dir", str(output)])
    monkeypatch.setattr(trainer, "early_stopping_callbacks", original)
    checkpoints = sorted(output.glob("checkpoint-*"))
    assert [c.name for c in checkpoints] == [f"checkpoint-{steps_per_epoch}"]
    return main([*common, "--output_dir", str(output), "--resume_from_checkpoint", str(checkpoints[0])])


@pytest.fixture
def real_cremad() -> Path:
    if not REAL_CREMAD.is_dir():
        pytest.skip(f"real CREMA-D subset not found at {REAL_CREMAD}")
    return REAL_CREMAD


def speaker_data(corpus_dir, dataset_cache) -> list[str]:
    return ["--data_dir", str(corpus_dir), "--dataset_cache_dir", dataset_cache, "--split", "speaker"]


def teacher_args(corpus_dir, dataset_cache, output, *extra):
    return [
        *speaker_data(corpus_dir, dataset_cache),
        "--feature_set",
        "eGeMAPSv02",
        "--output_dir",
        str(output),
        *extra,
    ]


@pytest.fixture(scope="session")
def feature_teachers(corpus_dir, dataset_cache, tmp_path_factory):
    """Two classical teachers on the synthetic corpus's speaker split: logistic (speaker-normalised, with 3-fold
    out-of-fold logits) and an MLP (plain). Returns {name: (folder, metrics)}."""
    import train_feature_teacher

    root = tmp_path_factory.mktemp("feature_teachers")
    made = {}
    for name, extra in {
        "logreg": ["--classifier", "logreg", "--C", "1", "--speaker_normalization", "true", "--oof_folds", "3"],
        "mlp": ["--classifier", "mlp", "--C", "10"],
    }.items():
        metrics = train_feature_teacher.main(teacher_args(corpus_dir, dataset_cache, root / name, *extra))
        made[name] = (root / name, metrics)
    return made


def tone_clip(path, rate: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(0.6 * rate)) / rate
    rng = np.random.default_rng(seed)
    sf.write(path, 0.3 * np.sin(2 * np.pi * (120 + 10 * seed) * t) + 0.01 * rng.standard_normal(t.size), rate)


@pytest.fixture
def ravdess(tmp_path):
    root = tmp_path / "RAVDESS"
    for actor in (1, 2):
        for code in ("01", "02", "03", "04", "05", "06", "07", "08"):
            tone_clip(
                root / f"Actor_{actor:02d}" / f"03-01-{code}-01-01-01-{actor:02d}.wav", 48_000, int(code) + actor
            )
    tone_clip(root / "Actor_01" / "03-02-05-01-01-01-01.wav", 48_000, 0)  # song, not speech
    return root


@pytest.fixture(scope="session")
def exported(distilled_student, corpus_dir, dataset_cache, tmp_path_factory):
    """The distilled student exported to ONNX, fp32 and int8, by export.py."""
    import export

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
