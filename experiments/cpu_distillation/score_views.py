"""Does scoring several views of a clip beat scoring the whole clip? Saved students on their validation clips.

    python experiments/cpu_distillation/score_views.py runs/s_long_ms_scratch_seed42 runs/s_long_ms_distilled_ens4_oof_seed42

For each model: accuracy on the whole clip (the first 6 s, as `eval.py` scores it), at speeds 0.9 and 1.1, on 2 s
windows from 0, 0.5, 1, 1.5, 2 and 3 s (moved back to fit the clip, as in training), and of the mean log-probability
over the speeds, over the windows, over the windows and the whole clip, and over every view. Each view uses the clip
alone (no other clip of its speaker). Prints one JSON line per model.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy.special import log_softmax

from data.sources import load_sources
from data.views import View
from litecnn_ser.evaluation import load_scorer, select_subset, to_model_labels
from litecnn_ser.feature_teacher import is_feature_teacher

WHOLE_S = 6.0
WINDOW_S = 2.0
SPEEDS = (0.9, 1.1)
OFFSETS_S = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def views() -> dict[str, View]:
    named = {"whole": View(1.0, 0.0, WHOLE_S)}
    named |= {f"whole_speed{speed:g}": View(speed, 0.0, WHOLE_S) for speed in SPEEDS}
    named |= {f"window_from{offset:g}s": View(1.0, offset, WINDOW_S) for offset in OFFSETS_S}
    return named


def score_views(model_id: str, corpus, data_dir: str, batch_size: int) -> dict[str, float]:
    if is_feature_teacher(model_id):
        raise SystemExit(f"error: {model_id} is a classical teacher: it hears whole clips, it has no views to score")
    score, names, record, _ = load_scorer(model_id, batch_size)
    dataset = select_subset(corpus, "validation", record, model_id, data_dir)
    labels = to_model_labels(dataset, names, model_id)
    scores = {name: log_softmax(score(dataset, view), axis=-1) for name, view in views().items()}
    windows = [scores[name] for name in scores if name.startswith("window")]
    combined = {
        "mean_of_speeds": scores["whole"] + sum(scores[f"whole_speed{speed:g}"] for speed in SPEEDS),
        "mean_of_windows": sum(windows),
        "mean_of_windows_and_whole": sum(windows) + scores["whole"],
        "mean_of_every_view": sum(scores.values()),
    }
    return {name: float(np.mean(s.argmax(-1) == labels)) for name, s in (scores | combined).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="student folders (LiteCNN or any transformers audio classifier)")
    parser.add_argument("--data_dir", default="../shared/datasets/crema-d/AudioFLAC")
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args()
    corpus, _ = load_sources([args.data_dir], None)
    for model_id in args.models:
        accuracy = score_views(model_id, corpus, args.data_dir, args.batch_size)
        print(json.dumps({"model": model_id, **{name: round(value, 4) for name, value in accuracy.items()}}))


if __name__ == "__main__":
    main()
