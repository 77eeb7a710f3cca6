"""The acoustic cues of arousal, per corpus, speaker sex and emotion: where each corpus's acted emotions lie on the
scales a model reads vocal effort from (eGeMAPS functionals of every clip, means over clips).

    python experiments/cross_corpus/cues.py        # Markdown table; experiments/results/cues.json

Pitch (F0 mean in semitones from 27.5 Hz, and its variation), loudness (after the corpus's own recording gain), the
spectral tilt (Hammarberg index: the 0-2 kHz peak over the 2-5 kHz peak, dB; alpha ratio: 1-5 kHz energy over
50 Hz-1 kHz, dB; both higher-frequency energy as effort rises) and the rate of voiced segments. Whole clips, as the
classical teachers hear them (`data.functionals`, cached beside each corpus's Arrow files).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import loco  # noqa: E402  (beside this script)

from data.cremad import EMOTIONS  # noqa: E402
from data.functionals import cached_functionals, smile  # noqa: E402
from data.sources import load_sources  # noqa: E402

CUES = {
    "F0 mean (st)": "F0semitoneFrom27.5Hz_sma3nz_amean",
    "F0 variation": "F0semitoneFrom27.5Hz_sma3nz_stddevNorm",
    "loudness": "loudness_sma3_amean",
    "Hammarberg (dB)": "hammarbergIndexV_sma3nz_amean",
    "alpha ratio (dB)": "alphaRatioV_sma3nz_amean",
    "voiced segments / s": "VoicedSegmentsPerSec",
}
DEFAULT_CORPORA = [f"{name}={folder}" for name, folder in loco.DEFAULT_CORPORA.items()]
"""The leave-one-corpus-out protocol's corpora, beside the repository."""


def cue_means(features: np.ndarray, labels: np.ndarray, sexes: np.ndarray, names: list[str]) -> dict:
    """{sex: {emotion: {cue: mean over the clips, "clips": count}}} for the sexes and emotions present."""
    out = {}
    for sex in sorted(set(sexes)):
        rows = {}
        for emotion in EMOTIONS:
            chosen = (sexes == sex) & (labels == names.index(emotion)) if emotion in names else np.zeros(0, bool)
            if chosen.any():
                means = features[chosen].mean(axis=0)
                rows[emotion] = {cue: round(float(value), 3) for cue, value in zip(CUES, means)}
                rows[emotion]["clips"] = int(chosen.sum())
        out[sex] = rows
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=DEFAULT_CORPORA, metavar="NAME=FOLDER")
    parser.add_argument("--output", type=Path, default=ROOT / "experiments" / "results" / "cues.json")
    args = parser.parse_args(argv)
    columns = [list(smile("eGeMAPSv02").feature_names).index(name) for name in CUES.values()]
    results = {}
    for spec in args.corpora:
        dataset = load_sources([spec])[0]
        features = cached_functionals(dataset, "eGeMAPSv02")[:, columns]
        names = dataset.features["label"].names
        results[spec.partition("=")[0]] = cue_means(
            features, np.asarray(dataset["label"]), np.asarray(dataset["sex"]), names
        )
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print("| corpus | speakers | emotion | " + " | ".join(CUES) + " | clips |")
    print("|---|---|---|" + "---:|" * (len(CUES) + 1))
    for corpus, by_sex in results.items():
        for sex, rows in by_sex.items():
            for emotion, cues in rows.items():
                cells = " | ".join(f"{cues[cue]:.2f}" for cue in CUES)
                print(f"| {corpus} | {sex.lower()} | {emotion} | {cells} | {cues['clips']} |")


if __name__ == "__main__":
    main()
