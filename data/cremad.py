"""CREMA-D as a `datasets` builder: clips -> an Arrow table with an audio column, labels and metadata.

datasets 5.x has no loading scripts, so the builder is an `ArrowBasedBuilder` called directly; users only
see `load_cremad(data_dir, split="stratified")`. Each clip is decoded once, checked (undecodable, empty,
silent, NaN, wrong name: reported by file name, never silently dropped) and stored in the on-disk Arrow cache:
16 kHz mono originals keep their own bytes, anything else is stored resampled as float32 WAV. A second call
on an unchanged folder reuses the cache; a changed folder (a file added, removed, renamed or edited) is prepared
anew. The key is the files' content, not their dates: a copied or re-mounted folder keeps its cache.

CREMA-D file names are `ActorID_Sentence_Emotion_Level`, e.g. `1002_DFA_ANG_XX.wav`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import soundfile as sf

from data.audio import SAMPLING_RATE, AudioDecodeError, read_audio, to_mono_16k

logger = logging.getLogger(__name__)

EMOTIONS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
"""Label order: CREMA-D's emotion codes in alphabetical order (ANG DIS FEA HAP NEU SAD), which is also the order
of the vote columns (A D F H N S) in `tabulatedVotes.csv`."""
EMOTION_CODES = dict(zip(("ANG", "DIS", "FEA", "HAP", "NEU", "SAD"), EMOTIONS))
INTENSITIES = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
AUDIO_EXTENSIONS = (".wav", ".flac")
DEMOGRAPHICS_CSV = "VideoDemographics.csv"
VOTES_CSV = "tabulatedVotes.csv"
SPLITS = ("stratified", "speaker")
SYNTHETIC_MARKER = "SYNTHETIC.txt"
"""Written by `data/synthetic.py` beside its clip folder: models trained there must not claim CREMA-D results."""

_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


class CremaDError(ValueError):
    """A folder or file that cannot be used, with the path and the reason in the message."""


@dataclass(frozen=True)
class ClipName:
    actor_id: int
    sentence: str
    emotion: str
    intensity: str


def parse_filename(path: str | Path) -> ClipName:
    """Parses `1002_DFA_ANG_XX.wav`; raises `CremaDError` naming the file and what is wrong with its name."""
    stem = Path(path).stem
    match = _NAME.match(stem)
    if match is None:
        raise CremaDError(f"{Path(path).name}: not a CREMA-D name (expected ActorID_Sentence_Emotion_Level)")
    actor, sentence, emotion, intensity = match.groups()
    if sentence not in SENTENCES:
        raise CremaDError(f"{Path(path).name}: unknown sentence code {sentence!r} (known: {', '.join(SENTENCES)})")
    if emotion not in EMOTION_CODES:
        raise CremaDError(f"{Path(path).name}: unknown emotion code {emotion!r} (known: {', '.join(EMOTION_CODES)})")
    if intensity not in INTENSITIES:
        raise CremaDError(f"{Path(path).name}: unknown intensity {intensity!r} (known: {', '.join(INTENSITIES)})")
    return ClipName(int(actor), sentence, EMOTION_CODES[emotion], intensity)


@dataclass
class PreparationReport:
    """What preparation used and what it skipped, with the reason for each skipped file."""

    used: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, limit: int = 10) -> str:
        text = f"used {self.used} clips, skipped {len(self.skipped)}"
        if self.skipped:
            shown = "; ".join(f"{name} ({reason})" for name, reason in self.skipped[:limit])
            more = f"; and {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
            text += f": {shown}{more}"
        return text


def find_clips(data_dir: str | Path) -> list[Path]:
    """The `.wav`/`.flac` files of a folder, sorted; one clear error for a missing folder or one without clips."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"CREMA-D folder not found: {folder} (pass --data_dir pointing to AudioWAV/)")
    clips = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if not clips:
        hint = [sub.name for sub in (folder / "AudioWAV", folder / "AudioFLAC") if sub.is_dir()]
        raise CremaDError(
            f"no .wav or .flac clips in {folder}" + (f" (did you mean {folder / hint[0]}?)" if hint else "")
        )
    return clips


def corpus_name(data_dir: str | Path) -> str:
    """`synthetic` for a corpus written by `data/synthetic.py` (its marker file beside the clips), else `cremad`."""
    return "synthetic" if _metadata_file(Path(data_dir), SYNTHETIC_MARKER) else "cremad"


def _metadata_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder.parent / name):
        if candidate.is_file():
            return candidate
    return None


def read_demographics(path: Path) -> dict[int, tuple[str, int]]:
    """`VideoDemographics.csv` -> {actor_id: (sex, age)}."""
    with open(path, newline="") as handle:
        return {int(row["ActorID"]): (row["Sex"], int(row["Age"])) for row in csv.DictReader(handle)}


def read_voice_votes(path: Path) -> dict[str, list[float]]:
    """`tabulatedVotes.csv` -> {file stem: vote distribution over EMOTIONS}, voice-only ratings (row ids 1xxxxx)."""
    votes = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if not row[""].startswith("1"):
                continue
            counts = np.array([float(row[code]) for code in "ADFHNS"])
            if counts.sum() > 0:
                votes[row["fileName"]] = (counts / counts.sum()).tolist()
    return votes


def _fingerprint(clips: list[Path], metadata: list[Path | None]) -> str:
    """Changes whenever a clip or metadata file is added, removed, renamed or edited, and only then.

    A digest of the files' names and bytes, not of their sizes and dates: a folder copied again (a fresh clone's
    `../shared`, `cp -r`, a re-mounted disk) has new dates and the same clips, and once re-prepared every cache keyed
    by it (the Arrow tables, the openSMILE functionals, the teachers' logits) from scratch. Reading the bytes costs
    about a second per 200 MB, against minutes of decoding and feature extraction."""
    digest = hashlib.sha256()
    for path in [*clips, *(m for m in metadata if m is not None)]:
        digest.update(f"{path.name}\0".encode())
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:16]


@dataclass
class CremaDConfig(datasets.BuilderConfig):
    """`data_dir` plus the metadata files found beside it; `fingerprint` keys the cache to the folder's content."""

    demographics_csv: str = ""
    votes_csv: str = ""
    fingerprint: str = ""


class CremaD(datasets.ArrowBasedBuilder):
    """CREMA-D clips as one `train` table (the whole corpus); `load_cremad` splits it."""

    BUILDER_CONFIG_CLASS = CremaDConfig
    VERSION = datasets.Version("1.0.0")
    DEFAULT_WRITER_BATCH_SIZE = 256  # rows of ~100 KB audio: keeps the writer's buffer near 25 MB

    def _info(self) -> datasets.DatasetInfo:
        features = {
            "id": datasets.Value("string"),
            "audio": datasets.Audio(sampling_rate=SAMPLING_RATE, decode=False),
            "label": datasets.ClassLabel(names=list(EMOTIONS)),
            "actor_id": datasets.Value("int32"),
            "sentence": datasets.Value("string"),
            "intensity": datasets.Value("string"),
            "duration_s": datasets.Value("float32"),
        }
        if self.config.demographics_csv:
            features["sex"] = datasets.Value("string")
            features["age"] = datasets.Value("int32")
        if self.config.votes_csv:
            features["crowd_votes"] = datasets.List(datasets.Value("float32"), length=len(EMOTIONS))
        return datasets.DatasetInfo(
            description="CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset (audio only).",
            features=datasets.Features(features),
            homepage="https://github.com/CheyneyComputerScience/CREMA-D",
            license="ODbL-1.0",
            citation="Cao et al., CREMA-D, IEEE Transactions on Affective Computing 5(4), 2014.",
        )

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN)]

    def _generate_tables(self):
        self.report = PreparationReport()
        demographics = read_demographics(Path(self.config.demographics_csv)) if self.config.demographics_csv else {}
        votes = read_voice_votes(Path(self.config.votes_csv)) if self.config.votes_csv else {}
        rows = []
        for path in find_clips(self.config.data_dir):
            try:
                name = parse_filename(path)
                row = {"id": path.stem, **_decode_for_cache(path)}
            except (CremaDError, AudioDecodeError) as error:
                self.report.skipped.append((path.name, str(error).split(": ", 1)[-1]))
                continue
            row.update(
                label=EMOTIONS.index(name.emotion),
                actor_id=name.actor_id,
                sentence=name.sentence,
                intensity=name.intensity,
            )
            if self.config.demographics_csv:
                row["sex"], row["age"] = demographics.get(name.actor_id, (None, None))
            if self.config.votes_csv:
                row["crowd_votes"] = votes.get(path.stem)
            rows.append(row)
            self.report.used += 1
            if len(rows) == self._writer_batch_size:
                yield self.report.used, self._table(rows)
                rows = []
        if rows:
            yield self.report.used, self._table(rows)

    def _table(self, rows: list[dict]) -> pa.Table:
        # Rows go to Arrow as they are: the audio bytes are already encoded, so `Audio.encode_example` (which
        # insists on torchcodec in datasets 5.x) is never needed.
        return pa.Table.from_pylist(rows, schema=self.info.features.arrow_schema)


def _decode_for_cache(path: Path) -> dict:
    """Checks a clip and returns its cached form: original bytes when already 16 kHz mono, else float32 WAV."""
    raw = path.read_bytes()
    samples, rate = read_audio({"bytes": raw, "path": path.name})
    waveform = to_mono_16k(samples, rate, path.name)
    if rate != SAMPLING_RATE or samples.shape[1] != 1 or not sf.info(io.BytesIO(raw)).subtype.startswith("PCM"):
        buffer = io.BytesIO()
        sf.write(buffer, waveform, SAMPLING_RATE, format="WAV", subtype="FLOAT")
        raw = buffer.getvalue()
    return {"audio": {"bytes": raw, "path": path.name}, "duration_s": waveform.size / SAMPLING_RATE}


def prepare_cremad(data_dir: str | Path, cache_dir: str | None = None) -> tuple[datasets.Dataset, PreparationReport]:
    """Prepares (or reuses) the Arrow cache of a CREMA-D folder; returns the whole corpus and what was skipped."""
    folder = Path(data_dir).resolve()
    clips = find_clips(folder)
    demographics, votes = _metadata_file(folder, DEMOGRAPHICS_CSV), _metadata_file(folder, VOTES_CSV)
    builder = CremaD(
        cache_dir=cache_dir,
        data_dir=str(folder),
        demographics_csv=str(demographics or ""),
        votes_csv=str(votes or ""),
        fingerprint=_fingerprint(clips, [demographics, votes]),
        hash=code_version("cremad.py", "audio.py"),
    )
    return load_prepared(builder, folder)


def load_prepared(builder: datasets.ArrowBasedBuilder, folder: Path) -> tuple[datasets.Dataset, PreparationReport]:
    """Prepares `builder`'s cache once (its report kept beside it for later calls) and returns its table and report."""
    report_file = Path(builder.cache_dir) / "preparation_report.json"
    if not report_file.exists():
        logger.info("Preparing the clips of %s (decoded once, cached in %s)", folder, builder.cache_dir)
    builder.download_and_prepare()
    if hasattr(builder, "report"):  # prepared in this call: keep the report beside the cache for later calls
        report_file.write_text(_report_json(builder.report))
    report = PreparationReport(**_load_json(report_file)) if report_file.exists() else PreparationReport()
    splits = builder.info.splits or {}
    if "train" not in splits or splits["train"].num_examples == 0:  # also when a second call finds an empty cache
        raise CremaDError(f"no usable clips in {folder}: {report.summary()}")
    dataset = builder.as_dataset(split="train")
    report.used = len(dataset)
    return dataset, report


def code_version(*modules: str) -> str:
    """A cache is also keyed by the code that fills it: these files of `data/`, in this order."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def _report_json(report: PreparationReport) -> str:
    return json.dumps({"used": report.used, "skipped": report.skipped}, indent=1)


def _load_json(path: Path) -> dict:
    content = json.loads(path.read_text())
    return {"used": content["used"], "skipped": [tuple(item) for item in content["skipped"]]}


def split_cremad(
    corpus: datasets.Dataset, split: str = "stratified", test_size: float = 0.2, seed: int = 42
) -> datasets.DatasetDict:
    """`stratified`: the paper's random split, stratified by emotion (actors shared between the splits).
    `speaker`: no actor in two splits; validation actors drawn per sex, so both splits keep the corpus's sex balance."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    if split == "stratified":
        try:
            parts = corpus.train_test_split(test_size=test_size, stratify_by_column="label", seed=seed)
        except ValueError as error:  # too few clips to put every emotion in both splits
            raise CremaDError(f"cannot split {len(corpus)} clips stratified by emotion: {error}") from None
        return datasets.DatasetDict(train=parts["train"], validation=parts["test"])
    validation_actors = speaker_split_actors(corpus, test_size, seed)
    actors = np.asarray(corpus["actor_id"])
    in_validation = np.isin(actors, sorted(validation_actors))
    return datasets.DatasetDict(
        train=corpus.select(np.flatnonzero(~in_validation)),
        validation=corpus.select(np.flatnonzero(in_validation)),
    )


def speaker_split_actors(corpus: datasets.Dataset, test_size: float, seed: int) -> set[int]:
    """The validation actors of the `speaker` split: `test_size` of each sex (or of all, without demographics)."""
    actors = list(corpus["actor_id"])
    if None in actors:
        raise CremaDError(
            f"the speaker split needs the speaker of every clip, and {actors.count(None)} of {len(actors)} clips have "
            "none: add a `speaker` column (AudioFolder metadata.csv or the manifest), or use --split stratified"
        )
    sexes = corpus["sex"] if "sex" in corpus.column_names else [None] * len(corpus)
    actor_sex = dict(zip(actors, sexes))
    if len(actor_sex) < 2:
        raise CremaDError(f"the speaker split needs at least 2 actors, the corpus has {len(actor_sex)}")
    rng = np.random.default_rng(seed)
    chosen = set()
    for sex in sorted(set(actor_sex.values()), key=str):
        group = sorted(actor for actor, actor_sex_ in actor_sex.items() if actor_sex_ == sex)
        count = max(1, round(len(group) * test_size)) if len(group) > 1 else 0
        chosen.update(int(actor) for actor in rng.permutation(group)[:count])
    if not chosen or len(chosen) == len(actor_sex):
        raise CremaDError(f"the speaker split of {len(actor_sex)} actors left a split empty (test_size {test_size})")
    return chosen


def load_cremad(
    data_dir: str | Path,
    split: str = "stratified",
    test_size: float = 0.2,
    seed: int = 42,
    cache_dir: str | None = None,
) -> datasets.DatasetDict:
    """CREMA-D (or any folder of CREMA-D-named clips) as a `DatasetDict` with `train` and `validation`.

    Args:
        data_dir: the folder of clips (`AudioWAV/` of the official corpus, or `AudioFLAC/`); `VideoDemographics.csv`
            and `tabulatedVotes.csv` are read from it or its parent when present (adding `sex`, `age`, `crowd_votes`).
        split: `stratified` (the paper's random 80/20 stratified by emotion) or `speaker` (no actor in two splits).
        test_size: the validation fraction (of clips, or of actors for `speaker`).
        seed: the same seed gives the same split.
        cache_dir: where the Arrow cache lives (default: the `datasets` cache).
    """
    corpus, report = prepare_cremad(data_dir, cache_dir)
    log = logger.warning if report.skipped else logger.info
    log("CREMA-D %s: %s", data_dir, report.summary())
    return split_cremad(corpus, split, test_size, seed)


def label_counts(dataset: datasets.Dataset) -> dict[str, int]:
    """{emotion: number of clips}, in label order."""
    counts = Counter(dataset["label"])
    return {emotion: counts.get(index, 0) for index, emotion in enumerate(EMOTIONS)}
