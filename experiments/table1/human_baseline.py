"""How often CREMA-D's voice-only crowd majority vote names the acted emotion, on the corpus and on each
validation split (the human reference beside the model numbers).

    python experiments/table1/human_baseline.py [DATA_DIR]
"""

from __future__ import annotations

import sys

import numpy as np

from data.cremad import prepare_cremad, split_cremad


def agreement(dataset) -> float:
    votes = np.array(dataset["crowd_votes"])  # (clips, 6) vote shares, EMOTIONS order; ties go to the first
    return float(np.mean(votes.argmax(axis=1) == np.array(dataset["label"])))


def main(data_dir: str = "../shared/datasets/crema-d/AudioFLAC") -> None:
    corpus, _ = prepare_cremad(data_dir)
    if "crowd_votes" not in corpus.column_names:
        raise SystemExit(f"error: no tabulatedVotes.csv in {data_dir} or its parent")
    print(f"all {len(corpus)} clips: {agreement(corpus):.3f}")
    for split in ("stratified", "speaker"):
        validation = split_cremad(corpus, split)["validation"]
        print(f"{split} validation ({len(validation)} clips): {agreement(validation):.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
