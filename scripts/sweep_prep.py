"""Pack the speaker split for `scripts/gpu_sweep.py`: every clip as Opus bytes, labels, the ensemble's out-of-fold
logits and the eGeMAPS hint targets of the training clips, in one pickle small enough to travel to a GPU machine.

    python scripts/sweep_prep.py --data_dir ../shared/datasets/crema-d/AudioFLAC --output .sweep/data.pkl
    python scripts/sweep_prep.py --data_dir ... --output .sweep/data.pkl --check_model runs/STUDENT   # codec cost

Opus (lossy, about 35 kb/s) only so that the corpus fits the transfer (42 MiB instead of 207); the sweep ranks
recipes, and the numbers that count are always re-measured with `train_student.py` on the original clips.
`--check_model` scores a saved student on the validation clips decoded from the original files and from the Opus
copies (whole clips up to 6 s, as the recipe evaluates): what the codec costs.
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.audio import SAMPLING_RATE, load_audio  # noqa: E402
from data.views import View  # noqa: E402
from teachers import FeatureHints, cached_logits, ensemble_logits, open_teacher  # noqa: E402
from training_utils import DataArguments, load_splits  # noqa: E402

ENS4 = ["runs/t_compare_mlp", "runs/t_compare_mlp_oof_seed1", "runs/t_compare_mlp_oof_seed2", "runs/t_egemaps_svm"]


def opus(waveform: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, waveform, SAMPLING_RATE, format="OGG", subtype="OPUS", compression_level=0.9)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--output", default=".sweep/data.pkl")
    parser.add_argument("--check_model", nargs="+", help="saved students to score on original vs Opus clips")
    args = parser.parse_args()
    data_args = DataArguments(data_dir=[args.data_dir], split="speaker", split_seed=42)
    splits, _ = load_splits(data_args, 42)
    if args.check_model:
        return check_codec(args.check_model, splits["validation"], args.output)
    packed = {}
    for name, part in splits.items():
        part = part.with_format(None)
        packed[name] = {
            "id": list(part["id"]),
            "label": np.asarray(part["label"]),
            "opus": [opus(load_audio(audio)) for audio in part["audio"]],
        }
    teachers = [open_teacher(folder) for folder in ENS4]
    members = [cached_logits(teacher, splits["train"], [View()], "out_of_fold")[0][0] for teacher in teachers]
    packed["train"]["teacher_logits"] = ensemble_logits(members)
    packed["train"]["hints"] = FeatureHints.from_dataset(splits["train"], "eGeMAPSv02").features
    packed["labels"] = splits["train"].features["label"].names
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "wb") as file:
        pickle.dump(packed, file)
    print(args.output, Path(args.output).stat().st_size // 2**20, "MiB")


def check_codec(models: list[str], validation, packed_path: str) -> None:
    import torch

    from modeling_litecnn import LiteCNNForAudioClassification
    from train_student import student_feature_extractor

    with open(packed_path, "rb") as file:
        packed = pickle.load(file)["validation"]
    validation = validation.with_format(None)
    if list(validation["id"]) != packed["id"]:
        raise SystemExit(f"error: {packed_path} was packed from another split; run without --check_model first")
    original = [load_audio(audio) for audio in validation["audio"]]
    coded = [sf.read(io.BytesIO(blob), dtype="float32")[0] for blob in packed["opus"]]
    extractor = student_feature_extractor()
    for folder in models:
        model = LiteCNNForAudioClassification.from_pretrained(folder).eval()
        scores = []
        for clips in (original, coded):
            hits = 0
            with torch.no_grad():
                for clip, label in zip(clips, packed["label"]):
                    inputs = extractor(clip[: 6 * SAMPLING_RATE], sampling_rate=SAMPLING_RATE, return_tensors="pt")
                    hits += int(model(inputs["input_values"]).logits.argmax(-1).item() == label)
            scores.append(hits / len(clips))
        print(f"{folder}: accuracy {scores[0]:.3f} on the original clips, {scores[1]:.3f} on the Opus copies")


if __name__ == "__main__":
    main()
