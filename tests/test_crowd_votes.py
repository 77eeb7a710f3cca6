"""CREMA-D's crowd votes as a teacher: the right emotion columns, unrated clips by their label, clear errors on a
bad table, and a student distilled from votes learns what the listeners heard, not the actors' labels."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import QUICK
from transformers import AutoModelForAudioClassification

import modeling_litecnn  # noqa: F401  (registers LiteCNN with the Auto classes)
import train_student
from configuration_litecnn import EMOTIONS
from data.views import View
from litecnn_ser.crowd_votes import SMOOTHING, UNRATED_VOTES, CrowdVotesTeacher
from litecnn_ser.teachers import open_teacher

HEADER = ["", "A", "D", "F", "H", "N", "S", "fileName", "numResponses"]
SHARED_VOTES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "crema-d" / "tabulatedVotes.csv"


def write_votes(path: Path, rows: dict[str, list[int]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(HEADER)
        for index, (name, votes) in enumerate(rows.items()):
            writer.writerow([str(index), *votes, name, sum(votes)])
    return path


def test_votes_become_log_probabilities_in_the_label_order(tmp_path):
    votes = write_votes(
        tmp_path / "votes.csv", {"1001_IEO_ANG_HI": [7, 3, 0, 0, 0, 0], "1001_IEO_SAD_LO": [0, 0, 1, 0, 4, 5]}
    )
    teacher = open_teacher(str(votes))
    assert isinstance(teacher, CrowdVotesTeacher) and teacher.labels == list(EMOTIONS)
    clips = datasets.Dataset.from_dict(
        {"id": ["1001_IEO_ANG_HI", "1001_IEO_SAD_LO", "savee/DC/a01"], "label": [0, 5, EMOTIONS.index("fear")]}
    )
    probabilities = np.exp(teacher.logits(clips, View()))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-6)
    expected = (np.array([7, 3, 0, 0, 0, 0]) + SMOOTHING) / (10 + 6 * SMOOTHING)
    np.testing.assert_allclose(probabilities[0], expected, rtol=1e-6)
    # the listeners' majority decides, not the label: neutral and sadness tie ahead of fear for the sad clip
    assert probabilities[1].argmax() == EMOTIONS.index("sadness") and probabilities[1][4] > probabilities[1][2]
    # an unrated clip (another corpus in a mix) is its label, as a unanimous panel of UNRATED_VOTES listeners
    expected = np.full(6, SMOOTHING)
    expected[EMOTIONS.index("fear")] += UNRATED_VOTES
    np.testing.assert_allclose(probabilities[2], expected / expected.sum(), rtol=1e-6)


@pytest.mark.parametrize(
    "content, reason",
    [
        ('"","A","D","fileName"\n"1",1,2,"x"\n', "no column F, H, N, S"),
        ('"","A","D","F","H","N","S","fileName"\n"1",1,"many",0,0,0,0,"x"\n', "line 2: vote counts must be numbers"),
        ('"","A","D","F","H","N","S","fileName"\n"1",0,0,0,0,0,0,"x"\n', "line 2: no votes"),
        ('"","A","D","F","H","N","S","fileName"\n', "no rows"),
    ],
)
def test_a_bad_votes_table_is_refused_naming_the_file_and_the_reason(tmp_path, content, reason):
    path = tmp_path / "votes.csv"
    path.write_text(content)
    with pytest.raises(SystemExit, match=str(path).replace(".", r"\.") + r".*" + reason.replace(",", ",")):
        open_teacher(str(path))


def _three_ratings(path: Path, rows: dict[str, list[list[int]]]) -> Path:
    """A table as CREMA-D's: each clip rated by voice, face and audio-visual panels (row ids 1xxxxx, 2xxxxx, 3xxxxx)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(HEADER)
        for kind in range(3):
            for index, (name, ratings) in enumerate(rows.items()):
                writer.writerow([f"{kind + 1}{index:05d}", *ratings[kind], name, sum(ratings[kind])])
    return path


def test_each_modality_reads_its_own_rows_of_a_three_rating_table(tmp_path):
    """Voice, face and audio-visual panels disagree on purpose: each modality gets its own panel's votes (the
    module before 2026-12-04 kept the last row of a clip whatever was asked), and the record says which."""
    table = _three_ratings(
        tmp_path / "votes.csv",
        {"1001_IEO_SAD_LO": [[0, 0, 0, 0, 9, 1], [0, 0, 0, 0, 1, 9], [0, 0, 5, 0, 0, 5]]},
    )
    for modality, votes in (
        ("voice", [0, 0, 0, 0, 9, 1]),
        ("face", [0, 0, 0, 0, 1, 9]),
        ("audiovisual", [0, 0, 5, 0, 0, 5]),
    ):
        teacher = open_teacher(str(table), votes_modality=modality)
        np.testing.assert_array_equal(teacher.votes["1001_IEO_SAD_LO"], votes)
        assert teacher.describe()["votes_modality"] == modality
    fingerprints = {open_teacher(str(table), votes_modality=m).fingerprint() for m in ("voice", "audiovisual")}
    assert len(fingerprints) == 2  # cached logits of one panel are never reused for another
    one = write_votes(tmp_path / "one.csv", {"1001_IEO_SAD_LO": [0, 0, 0, 0, 1, 9]})
    assert open_teacher(str(one), votes_modality="voice").describe()["votes_modality"] == "one rating per clip"


def test_an_ambiguous_or_incomplete_three_rating_table_is_refused(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text(
        '"","A","D","F","H","N","S","fileName"\n"100001",1,0,0,0,0,0,"x"\n"300001",0,1,0,0,0,0,"x"\n'
        '"100002",1,0,0,0,0,0,"y"\n"300002",0,1,0,0,0,0,"y"\n"300003",0,1,0,0,0,0,"y"\n'
    )
    with pytest.raises(SystemExit, match=r"line 6: y is rated twice with row ids starting 3 \(lines 5 and 6\)"):
        open_teacher(str(path))
    path.write_text(
        '"","A","D","F","H","N","S","fileName"\n"100001",1,0,0,0,0,0,"x"\n"300001",0,1,0,0,0,0,"x"\n'
        '"300002",0,1,0,0,0,0,"y"\n'
    )
    open_teacher(str(path))  # every clip has an audio-visual rating
    with pytest.raises(SystemExit, match=r"y \(lines 4\) has no voice rating \(a row id starting 1\)"):
        open_teacher(str(path), votes_modality="voice")
    with pytest.raises(SystemExit, match="--votes_modality 'audio'"):
        open_teacher(str(path), votes_modality="audio")


def test_the_real_tables_voice_ratings_are_its_summary_voice_votes():
    """CREMA-D's summaryTable.csv names each clip's majority per panel: the voice modality's majority is its
    VoiceVote and the audio-visual one its MultiModalVote (a wrong digit-to-panel map agrees about half the time)."""
    summary_path = SHARED_VOTES.parent / "summaryTable.csv"
    if not summary_path.is_file():
        pytest.skip("CREMA-D's tabulatedVotes.csv and summaryTable.csv are not beside the repository")
    with summary_path.open(newline="") as handle:
        summary = {row["FileName"]: row for row in csv.DictReader(handle)}
    for modality, column in (("voice", "VoiceVote"), ("audiovisual", "MultiModalVote")):
        votes = CrowdVotesTeacher(SHARED_VOTES, modality=modality).votes
        agree = [
            "ADFHNS"[counts.argmax()] in summary[name][column].split(":")
            for name, counts in votes.items()
            if (counts == counts.max()).sum() == 1
        ]
        assert len(agree) > 3_500 and np.mean(agree) == 1.0, modality


def test_the_real_votes_table_agrees_with_most_labels():
    """On CREMA-D's own table (the 4,080 clips beside the repository), each clip's vote majority is its intended
    emotion for about three clips in four (0.746); read in another column order it would be near chance."""
    if not SHARED_VOTES.is_file():
        pytest.skip("CREMA-D's tabulatedVotes.csv is not beside the repository")
    teacher = CrowdVotesTeacher(SHARED_VOTES)
    codes = {"ANG": 0, "DIS": 1, "FEA": 2, "HAP": 3, "NEU": 4, "SAD": 5}
    names = [name for name in teacher.votes if name.split("_")[2] in codes]
    majority = np.array([teacher.votes[name].argmax() for name in names])
    intended = np.array([codes[name.split("_")[2]] for name in names])
    assert len(names) >= 4_000 and 0.65 < np.mean(majority == intended) < 0.85


def test_a_student_distilled_from_votes_learns_what_listeners_heard(corpus_dir, dataset_cache, tmp_path):
    """Every synthetic clip's listeners all heard sadness: with alpha 0 (the votes alone) the student ends up
    calling every validation clip sad, whatever its label; cross-entropy alone would not."""
    clips = sorted(path.stem for path in Path(corpus_dir).glob("*.wav"))
    votes = write_votes(tmp_path / "votes.csv", {name: [0, 0, 0, 0, 1, 9] for name in clips})
    output = tmp_path / "votes_student"
    train_student.main(
        [
            *("--teacher", str(votes), "--alpha", "0", "--teacher_logits", "out_of_fold"),
            *("--data_dir", str(corpus_dir), "--dataset_cache_dir", dataset_cache, "--output_dir", str(output)),
            *QUICK,
            *("--max_steps", "25", "--learning_rate", "3e-3", "--per_device_train_batch_size", "32"),
            *("--stem_channels", "8", "--block_channels", "8", "16", "--classifier_hidden_size", "32"),
        ]
    )
    config = json.loads((output / "config.json").read_text())
    assert config["distillation"]["teacher_model_type"] == "crowd votes"
    model = AutoModelForAudioClassification.from_pretrained(output).eval()
    batch = [sf.read(path, dtype="float32")[0][:16_000] for path in sorted(Path(corpus_dir).glob("*.wav"))[:24]]
    inputs = torch.tensor(np.stack([(clip - clip.mean()) / (clip.std() + 1e-7) for clip in batch]))
    with torch.no_grad():
        predicted = model(inputs).logits.argmax(-1)
    assert (predicted == EMOTIONS.index("sadness")).float().mean() > 0.9
