"""RAVDESS, SAVEE and TESS as `datasets` tables of the same shape as CREMA-D's, found from a folder's layout.

    from data.corpora import prepare_corpus
    corpus, report = prepare_corpus("RAVDESS/")      # corpus name detected from the file names
    report.summary()                                 # used N clips, skipped M: ... (left-out emotions counted)

Each clip gets CREMA-D's columns (`id`, `audio`, `label` in the project's six emotions and order, `actor_id`,
`sex`, `duration_s`) plus `corpus`, `speaker` (the corpus's own speaker name) and `corpus_emotion` (the corpus's
own emotion word). `actor_id` is a number that never collides across corpora: CREMA-D keeps 1001-1091, RAVDESS
actors are 2001-2024, SAVEE's DC JE JK KL 3001-3004, TESS's OAF YAF 4001-4002, so a speaker split over a mix stays
speaker-independent. Emotions outside the six (RAVDESS calm and surprised, SAVEE and TESS surprise) are left out
and reported, file by file, with the reason; so is every file whose name is not the corpus's, and every file
soundfile cannot decode (some TESS copies hold AIFF-C data under a .wav name: read when libsndfile can, reported
when not). The layouts, as distributed:

- RAVDESS speech: `Actor_NN/03-01-EE-II-SS-RR-AA.wav` (modality 03 audio-only, vocal channel 01 speech, emotion,
  intensity, statement, repetition, actor; odd actors male, even female), 48 kHz.
- SAVEE: `DC/a01.wav` (speaker folders) or `DC_a01.wav` (flat); emotion prefix a d f h n sa su; four male speakers,
  44.1 kHz.
- TESS: `OAF_back_angry.wav` (often in emotion folders); emotions angry disgust fear happy neutral ps /
  pleasant_surprise(d) sad; two female speakers, 24.4 kHz.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import datasets
import pyarrow as pa

from data.audio import SAMPLING_RATE, AudioDecodeError
from data.cremad import (
    EMOTIONS,
    CremaDError,
    PreparationReport,
    _decode_for_cache,
    _fingerprint,
    code_version,
    load_prepared,
)

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff")


class CorpusError(CremaDError):
    """A folder of no known corpus, or a file that is not the corpus's, with the path and the reason."""


@dataclass(frozen=True)
class Clip:
    """What a file name says: speaker, the corpus's emotion word, and the label (None for a left-out emotion)."""

    speaker: str | None
    actor_id: int | None
    sex: str | None
    corpus_emotion: str
    label: str | None


RAVDESS_EMOTIONS = {
    "01": ("neutral", "neutral"),
    "02": ("calm", None),
    "03": ("happy", "happiness"),
    "04": ("sad", "sadness"),
    "05": ("angry", "anger"),
    "06": ("fearful", "fear"),
    "07": ("disgust", "disgust"),
    "08": ("surprised", None),
}
_RAVDESS = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def parse_ravdess(path: Path) -> Clip:
    match = _RAVDESS.match(path.stem)
    if match is None:
        raise CorpusError(f"{path.name}: not a RAVDESS name (expected MM-VV-EE-II-SS-RR-AA)")
    modality, channel, emotion, intensity, _, _, actor = match.groups()
    if modality != "03" or channel != "01":
        raise CorpusError(f"{path.name}: not audio-only speech (modality {modality}, vocal channel {channel})")
    if emotion not in RAVDESS_EMOTIONS or intensity not in ("01", "02") or not 1 <= int(actor) <= 24:
        raise CorpusError(f"{path.name}: unknown emotion, intensity or actor code")
    word, label = RAVDESS_EMOTIONS[emotion]
    sex = "Male" if int(actor) % 2 else "Female"
    return Clip(f"Actor_{actor}", 2000 + int(actor), sex, word, label)


SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
SAVEE_EMOTIONS = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": None,
}
_SAVEE_FLAT = re.compile(r"^(DC|JE|JK|KL)_(a|d|f|h|n|sa|su)(\d{2})$")
_SAVEE_IN_FOLDER = re.compile(r"^(a|d|f|h|n|sa|su)(\d{2})$")


def parse_savee(path: Path) -> Clip:
    flat, in_folder = _SAVEE_FLAT.match(path.stem), _SAVEE_IN_FOLDER.match(path.stem)
    if flat is not None:
        speaker, code = flat.group(1), flat.group(2)
    elif in_folder is not None and path.parent.name in SAVEE_SPEAKERS:
        speaker, code = path.parent.name, in_folder.group(1)
    else:
        raise CorpusError(f"{path.name}: not a SAVEE name (expected DC_a01.wav, or a01.wav in a DC/JE/JK/KL folder)")
    word = {"su": "surprise"}.get(code, SAVEE_EMOTIONS[code])
    return Clip(speaker, 3001 + SAVEE_SPEAKERS.index(speaker), "Male", word, SAVEE_EMOTIONS[code])


TESS_SPEAKERS = ("OAF", "YAF")
TESS_EMOTIONS = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "neutral": "neutral",
    "sad": "sadness",
    "ps": None,
    "pleasant_surprise": None,
    "pleasant_surprised": None,
}
_TESS = re.compile(r"^(OAF|YAF)_([A-Za-z]+)_([A-Za-z_]+)$", re.IGNORECASE)


def parse_tess(path: Path) -> Clip:
    match = _TESS.match(path.stem)
    emotion = match.group(3).lower() if match else None
    if match is None or emotion not in TESS_EMOTIONS:
        raise CorpusError(f"{path.name}: not a TESS name (expected OAF_word_emotion.wav)")
    speaker = match.group(1).upper()
    return Clip(speaker, 4001 + TESS_SPEAKERS.index(speaker), "Female", emotion, TESS_EMOTIONS[emotion])


PARSERS: dict[str, Callable[[Path], Clip]] = {"ravdess": parse_ravdess, "savee": parse_savee, "tess": parse_tess}
CORPORA = ("cremad", *PARSERS)


def find_audio(folder: Path) -> list[Path]:
    """Every audio file under `folder` (corpora nest speakers or emotions in folders), sorted."""
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {folder}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def detect_corpus(folder: str | Path) -> str:
    """The corpus whose names most of the folder's audio files have: cremad, ravdess, savee or tess."""
    from data.cremad import parse_filename

    files = find_audio(Path(folder))
    parsers = {"cremad": parse_filename, **PARSERS}
    counts = {}
    for corpus, parse in parsers.items():
        counts[corpus] = 0
        for path in files:
            try:
                parse(path)
                counts[corpus] += 1
            except CremaDError as error:  # a name of the corpus, left out for its modality, still counts
                counts[corpus] += "not audio-only speech" in str(error)
    best = max(counts, key=counts.get)
    if not files or counts[best] == 0:
        raise CorpusError(
            f"{folder}: no CREMA-D, RAVDESS, SAVEE or TESS file names among {len(files)} audio files "
            "(expected e.g. 1001_DFA_ANG_XX.wav, Actor_01/03-01-05-01-01-01-01.wav, DC/a01.wav, OAF_back_angry.wav)"
        )
    return best


@dataclass
class CorpusConfig(datasets.BuilderConfig):
    corpus: str = ""
    labels: tuple[str, ...] = EMOTIONS
    fingerprint: str = ""


class ClipTable(datasets.ArrowBasedBuilder):
    """One `train` table of labelled clips: CREMA-D's columns (`id audio label actor_id sex duration_s`) plus
    `corpus`, `speaker`, `corpus_emotion`. Subclasses say which clips (`_clips`); each is decoded once, and every
    clip that cannot be used (a name that is not the corpus's, a left-out emotion, a missing or undecodable file) is
    reported with the reason."""

    BUILDER_CONFIG_CLASS = CorpusConfig
    VERSION = datasets.Version("1.0.0")
    DEFAULT_WRITER_BATCH_SIZE = 256

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=f"{self.config.corpus} (audio only), labelled {', '.join(self.config.labels)}.",
            features=datasets.Features(
                {
                    "id": datasets.Value("string"),
                    "audio": datasets.Audio(sampling_rate=SAMPLING_RATE, decode=False),
                    "label": datasets.ClassLabel(names=list(self.config.labels)),
                    "actor_id": datasets.Value("int32"),
                    "sex": datasets.Value("string"),
                    "duration_s": datasets.Value("float32"),
                    "corpus": datasets.Value("string"),
                    "speaker": datasets.Value("string"),
                    "corpus_emotion": datasets.Value("string"),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN)]

    def _clips(self) -> Iterator[tuple[Path, str, Callable[[], Clip]]]:
        """(file, its name as reported, what it is: a call that gives its `Clip` or raises `CremaDError`)."""
        raise NotImplementedError

    def _generate_tables(self):
        self.report = PreparationReport()
        labels, rows = list(self.config.labels), []
        for path, name, clip_of in self._clips():
            try:
                clip = clip_of()
                if clip.label is None:
                    raise CorpusError(f"{name}: left out: emotion {clip.corpus_emotion!r} is not one of the six")
                if not path.is_file():
                    raise CorpusError(f"{name}: no such file")
                row = {
                    "id": f"{self.config.corpus}/{Path(name).with_suffix('').as_posix()}",
                    **_decode_for_cache(path),
                }
            except (CremaDError, AudioDecodeError) as error:
                self.report.skipped.append((name, str(error).split(": ", 1)[-1]))
                continue
            row.update(
                label=labels.index(clip.label),
                actor_id=clip.actor_id,
                sex=clip.sex,
                corpus=self.config.corpus,
                speaker=clip.speaker,
                corpus_emotion=clip.corpus_emotion,
            )
            rows.append(row)
            self.report.used += 1
            if len(rows) == self._writer_batch_size:
                yield self.report.used, pa.Table.from_pylist(rows, schema=self.info.features.arrow_schema)
                rows = []
        if rows:
            yield self.report.used, pa.Table.from_pylist(rows, schema=self.info.features.arrow_schema)


class Corpus(ClipTable):
    """RAVDESS, SAVEE or TESS, labelled in the six CREMA-D emotions from the file names."""

    def _clips(self):
        folder, parse = Path(self.config.data_dir), PARSERS[self.config.corpus]
        for path in find_audio(folder):
            yield path, str(path.relative_to(folder)), partial(parse, path)


def prepare_corpus(
    data_dir: str | Path, corpus: str | None = None, cache_dir: str | None = None
) -> tuple[datasets.Dataset, PreparationReport]:
    """Any of the four corpora (detected from the file names unless `corpus` is given), prepared once and cached."""
    from data.cremad import prepare_cremad

    folder = Path(data_dir).resolve()
    corpus = corpus or detect_corpus(folder)
    if corpus not in CORPORA:
        raise CorpusError(f"unknown corpus {corpus!r} (known: {', '.join(CORPORA)})")
    if corpus == "cremad":
        return prepare_cremad(folder, cache_dir)
    builder = Corpus(
        cache_dir=cache_dir,
        data_dir=str(folder),
        corpus=corpus,
        fingerprint=_fingerprint(find_audio(folder), []),
        hash=code_version("corpora.py", "cremad.py", "audio.py"),
    )
    return load_prepared(builder, folder)
