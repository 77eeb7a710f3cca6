"""CREMA-D's crowd votes as a teacher: what listeners heard, as soft labels (a "human teacher").

Every CREMA-D clip was rated by about ten listeners (`tabulatedVotes.csv`: columns A D F H N S count the votes for
each emotion, `fileName` names the clip). Their vote distribution is a soft target that no model made: it says
which angry clips sound like disgust to people, and it was never fitted to the actors' intended labels, so it can
be used for every training clip without out-of-fold fits. Its logits are `log((votes + smoothing) / (n + 6 *
smoothing))`; the distillation loss then softens them with its temperature like any teacher's.

CREMA-D's table rates each clip three times, by different listeners (its row id's first digit is CREMA-D's
`queryType`: 1 the voice alone, 2 the face alone, 3 the audio-visual clip; checked against `summaryTable.csv`'s
VoiceVote / FaceVote / MultiModalVote, which each agree with 100% of their rows' majority votes). `--votes_modality`
picks one: `audiovisual` (the default: what every committed votes run used, which until 2026-12-04 this module
took silently, as the last of a clip's rows) or `voice` (what listeners heard from the audio alone, all that an
audio student hears). A table with one row per clip is used as it is, whatever the modality.

Clips the file does not rate (other corpora in a mix, a clip left out of the votes) get their own label as if
`UNRATED_VOTES` listeners had all heard it, with the same smoothing: the hard label, no sharper than a unanimous
CREMA-D clip; the log says how many clips were rated.

    python train_student.py ... --teacher ../shared/datasets/crema-d/tabulatedVotes.csv
"""

from __future__ import annotations

import csv
import hashlib
import logging
from pathlib import Path

import datasets
import numpy as np

from configuration_litecnn import EMOTIONS
from data.views import View

logger = logging.getLogger(__name__)

VOTE_COLUMNS = ("A", "D", "F", "H", "N", "S")  # in EMOTIONS' order: anger disgust fear happiness neutral sadness
SMOOTHING = 0.5  # pseudo-votes per emotion: a clip no listener called fearful keeps a small probability of fear
UNRATED_VOTES = 10  # a clip without votes counts as this many listeners agreeing with its label (CREMA-D's median)
MODALITIES = {"voice": "1", "face": "2", "audiovisual": "3"}
"""The first digit of a row id of CREMA-D's table for each kind of rating (its `queryType`)."""
DEFAULT_MODALITY = "audiovisual"


def is_votes_file(path: str | Path) -> bool:
    path = Path(path)
    return path.is_file() and path.suffix == ".csv"


class CrowdVotesTeacher:
    """The teacher interface of `teachers.py` (labels, training_data, describe, fingerprint, teacher_view, logits)
    over a votes table."""

    uses_labels = False  # no fit to the labels: in-sample logits leak nothing, `--teacher_logits out_of_fold` too

    def __init__(self, path: str | Path, smoothing: float = SMOOTHING, modality: str = DEFAULT_MODALITY):
        self.folder = Path(path)  # the name `teachers.py` and the records use for a teacher's source
        self.smoothing = smoothing
        self.votes, self.modality = read_votes(self.folder, modality)

    labels = list(EMOTIONS)
    training_data = None  # votes of every clip, fitted to nothing: no split to check

    def describe(self) -> dict:
        return {
            "teacher": str(self.folder),
            "teacher_model_type": "crowd votes",
            "teacher_parameters": None,
            "teacher_max_duration_s": None,
            "uses_speaker_statistics": False,
            "smoothing": self.smoothing,
            "votes_modality": self.modality,
        }

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.folder.read_bytes())
        digest.update(f"smoothing={self.smoothing} unrated={UNRATED_VOTES} modality={self.modality}".encode())
        return digest.hexdigest()

    def teacher_view(self, view: View) -> View:
        return View()  # listeners heard the whole clip: every view of it has the same target

    def logits(self, dataset: datasets.Dataset, view: View) -> np.ndarray:
        ids, labels = dataset["id"], np.asarray(dataset["label"])
        counts = np.zeros((len(ids), len(EMOTIONS)), dtype=np.float64)
        rated = 0
        for row, (clip_id, label) in enumerate(zip(ids, labels)):
            votes = self.votes.get(clip_id)
            if votes is None:
                counts[row, label] = UNRATED_VOTES
            else:
                counts[row], rated = votes, rated + 1
        logger.info("crowd votes: %d of %d clips rated by listeners, the others by their label", rated, len(ids))
        probabilities = (counts + self.smoothing) / (counts + self.smoothing).sum(-1, keepdims=True)
        return np.log(probabilities).astype(np.float32)


def read_votes(path: Path, modality: str = DEFAULT_MODALITY) -> tuple[dict[str, np.ndarray], str]:
    """({clip name: votes per emotion (6,)}, which ratings they are) from `tabulatedVotes.csv`: the `modality`'s
    rows of a table that rates each clip several times, or every row of one that rates each clip once ("one rating
    per clip"); a clear error naming the file otherwise."""
    if modality not in MODALITIES:
        raise SystemExit(f"error: --votes_modality {modality!r}: one of {', '.join(MODALITIES)}")
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in (*VOTE_COLUMNS, "fileName") if column not in (reader.fieldnames or [])]
            if missing:
                raise SystemExit(
                    f"error: --teacher {path}: not a CREMA-D votes table (no column {', '.join(missing)}; "
                    "expected tabulatedVotes.csv)"
                )
            ratings: dict[str, dict[str, tuple[int, np.ndarray]]] = {}
            for line, row in enumerate(reader, start=2):
                try:
                    counts = np.array([float(row[column]) for column in VOTE_COLUMNS])
                except ValueError:
                    raise SystemExit(f"error: --teacher {path}, line {line}: vote counts must be numbers") from None
                if (counts < 0).any() or counts.sum() == 0:
                    raise SystemExit(f"error: --teacher {path}, line {line}: no votes or a negative count")
                kind = (row.get("") or "?")[:1]
                clip = ratings.setdefault(row["fileName"], {})
                if kind in clip:
                    raise SystemExit(
                        f"error: --teacher {path}, line {line}: {row['fileName']} is rated twice with row ids "
                        f"starting {kind} (lines {clip[kind][0]} and {line}): which rating to use is unclear"
                    )
                clip[kind] = (line, counts)
    except UnicodeDecodeError:
        raise SystemExit(f"error: --teacher {path}: not a text CSV file") from None
    if not ratings:
        raise SystemExit(f"error: --teacher {path}: no rows")
    if all(len(clip) == 1 for clip in ratings.values()):
        return {name: next(iter(clip.values()))[1] for name, clip in ratings.items()}, "one rating per clip"
    wanted = MODALITIES[modality]
    votes = {}
    for name, clip in ratings.items():
        if wanted not in clip:
            lines = ", ".join(str(line) for line, _ in clip.values())
            raise SystemExit(
                f"error: --teacher {path}: {name} (lines {lines}) has no {modality} rating (a row id starting "
                f"{wanted}), though the table rates clips several times"
            )
        votes[name] = clip[wanted][1]
    return votes, modality
