"""Speaker adaptation with unlabelled clips: each speaker's features (or scores) standardised over their own clips.

Per-speaker normalisation is standard in affective computing: what varies between speakers (pitch range, loudness,
voice quality) is removed, what varies between one speaker's emotions is kept. Its assumption, stated wherever it is
offered: **a speaker's clips are not all one emotion** (on a speaker who only ever sounds angry, centring removes
the anger). It uses no labels, but it does use *other clips of the same speaker*, so any number obtained with it is
not a one-clip number: the README and the model cards say which numbers use it.

Where the speaker of a clip comes from is the caller's choice, always explicit (`speaker_of`): a field of a
CREMA-D-style file name, the clip's folder, or a manifest column.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SPEAKER_SOURCES = ("filename", "folder", "manifest")
"""Where a clip's speaker comes from: the first `_`-separated field of its file name (CREMA-D's actor id), the
name of its folder (one folder per speaker), or a CSV manifest with `path` and `speaker` columns."""

MIN_CLIPS_PER_SPEAKER = 2
"""Statistics of one clip would erase the clip itself (its centred scores are all zero)."""


def normalize_by_speaker(values: np.ndarray, speakers: Sequence, scale: bool = True) -> np.ndarray:
    """Each speaker's rows minus that speaker's mean (and divided by its standard deviation when `scale`).

    `values` is `(num_clips, dim)`; rows of a speaker with fewer than `MIN_CLIPS_PER_SPEAKER` clips are returned
    unchanged (one clip has no statistics worth the name)."""
    values = np.asarray(values, dtype=np.float64)
    speakers = np.asarray([str(s) for s in speakers])
    if len(speakers) != len(values):
        raise ValueError(f"{len(values)} rows but {len(speakers)} speaker ids")
    out = values.copy()
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        if rows.sum() < MIN_CLIPS_PER_SPEAKER:
            continue
        out[rows] -= values[rows].mean(axis=0)
        if scale:
            out[rows] /= values[rows].std(axis=0) + 1e-8
    return out.astype(np.float32)


def centre_log_probabilities(logits: np.ndarray, speakers: Sequence) -> np.ndarray:
    """Scores for a classifier adapted to each speaker: log-probabilities centred over the speaker's clips.

    Subtracting a speaker's mean log-probability of each emotion removes that speaker's bias towards it (a low
    voice read as sad on every clip), which is the classifier-side counterpart of normalising the features."""
    logits = np.asarray(logits, dtype=np.float64)
    log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    return normalize_by_speaker(log_probs, speakers, scale=False)


def read_manifest(path: str | Path) -> dict[str, str]:
    """`{resolved file path: speaker}` from a CSV with `path` and `speaker` columns (paths relative to the CSV)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--speaker_manifest {path}: no such file")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "speaker"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"--speaker_manifest {path}: missing column(s) {sorted(missing)} (need path, speaker)")
        return {str((path.parent / row["path"]).resolve()): row["speaker"] for row in reader}


def speaker_of(file: str | Path, source: str, manifest: dict[str, str] | None = None) -> str:
    """The speaker of `file` according to `source` (one of `SPEAKER_SOURCES`); a clear error when it has none."""
    file = Path(file)
    if source == "filename":
        return file.stem.split("_")[0]
    if source == "folder":
        return file.resolve().parent.name
    if source == "manifest":
        if manifest is None:
            raise ValueError("speaker source 'manifest' needs --speaker_manifest CSV")
        try:
            return manifest[str(file.resolve())]
        except KeyError:
            raise ValueError(f"{file}: not in the speaker manifest") from None
    raise ValueError(f"speaker source must be one of {SPEAKER_SOURCES}, got {source!r}")
