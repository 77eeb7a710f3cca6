"""What `--data_dir` reads: one or several sources, each a corpus as distributed or your own labelled clips.

    from data.sources import load_sources
    corpus, reports = load_sources(["CREMA-D/AudioWAV", "RAVDESS/", "tess=TESS/"])   # a mix of corpora
    corpus, reports = load_sources(["my_clips/"])            # AudioFolder: my_clips/<label>/<clip>.wav
    corpus, reports = load_sources(["labels.csv"])           # a manifest: path,label[,speaker]

A source is `PATH` or `KIND=PATH`, KIND one of `cremad ravdess savee tess audiofolder manifest`. Without KIND, a
`.csv` file is a manifest, and a folder is whichever corpus its file names are (`data/corpora.py`), or an
AudioFolder when none of them matches and its clips sit one folder deep.

- **AudioFolder** (the `datasets` convention): one folder per label (`angry/001.wav`, `calm/002.wav`), optionally a
  `metadata.csv` at the top with `file_name` (relative to the top folder) and columns such as `speaker`, `sex`.
- **Manifest**: a CSV with `path` (absolute, or relative to the CSV) and `label`, optionally `speaker` and `sex`.

Your own data may have its own label set: the labels are its folder names or label column, in alphabetical order,
unless they are all among CREMA-D's six emotions (then CREMA-D's order, so that models stay comparable). A mix has
the union of its sources' label sets by the same rule. Speakers get an `actor_id` that never collides with another
source's; without a speaker column there are no speakers, and the speaker split is refused (`split_cremad`).

One source that is a corpus keeps that corpus's own table (CREMA-D keeps `sentence`, `intensity`, `crowd_votes`);
a mix keeps the columns every source has: `id audio label actor_id sex duration_s corpus speaker`.
"""

from __future__ import annotations

import csv
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from data.corpora import (
    AUDIO_EXTENSIONS,
    CORPORA,
    Clip,
    ClipTable,
    CorpusConfig,
    CorpusError,
    detect_corpus,
    find_audio,
    prepare_corpus,
)
from data.cremad import EMOTIONS, _fingerprint, code_version, corpus_name, load_prepared

logger = logging.getLogger(__name__)

CUSTOM_KINDS = ("audiofolder", "manifest")
KINDS = (*CORPORA, *CUSTOM_KINDS)
MIX_COLUMNS = ("id", "audio", "label", "actor_id", "sex", "duration_s", "corpus", "speaker")
METADATA_CSV = "metadata.csv"


@dataclass(frozen=True)
class Source:
    """One `--data_dir` entry: where it is and what it is (`kind` None: found from its content)."""

    path: Path
    kind: str | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        kind, separator, path = text.partition("=")
        if separator and kind in KINDS:
            return cls(Path(path), kind)
        if separator and "/" not in kind and not Path(text).exists():
            raise CorpusError(f"{text}: unknown source kind {kind!r} (known: {', '.join(KINDS)})")
        return cls(Path(text))

    def resolve_kind(self) -> str:
        if not self.path.exists():
            raise FileNotFoundError(
                f"{self.path}: no such folder or file (give a folder of clips, e.g. CREMA-D/AudioWAV, or a CSV manifest)"
            )
        if self.kind:
            return self.kind
        if self.path.suffix.lower() == ".csv":
            return "manifest"
        try:
            return detect_corpus(self.path)
        except CorpusError as error:
            if _looks_like_audiofolder(self.path):
                return "audiofolder"
            raise CorpusError(
                f"{error}; nor is it an AudioFolder (one folder per label, clips inside) or a CSV manifest "
                "(say which with audiofolder=PATH or manifest=FILE.csv)"
            ) from None


def _looks_like_audiofolder(folder: Path) -> bool:
    files = find_audio(folder)
    labels = {path.relative_to(folder).parts[0] for path in files if len(path.relative_to(folder).parts) == 2}
    return bool(files) and len(labels) >= 2 and all(len(path.relative_to(folder).parts) == 2 for path in files)


@dataclass(frozen=True)
class Entry:
    """One labelled clip of your own data, as its folder or manifest says."""

    path: Path
    name: str  # as the user wrote it (relative path): how it is reported
    label: str
    speaker: str | None
    sex: str | None


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CorpusError(f"{path}: cannot read the CSV ({error})") from None
    missing = [column for column in required if column not in columns]
    if missing:
        raise CorpusError(f"{path}: no {', '.join(missing)} column (columns: {', '.join(columns) or 'none'})")
    if not rows:
        raise CorpusError(f"{path}: no rows")
    return rows


def _optional(row: dict[str, str], *names: str) -> str | None:
    for name in names:
        value = (row.get(name) or "").strip()
        if value:
            return value
    return None


def audiofolder_entries(folder: Path) -> list[Entry]:
    """`folder/<label>/<clip>` with an optional `folder/metadata.csv` (`file_name`, `speaker`, `sex`, ...)."""
    files = find_audio(folder)
    if not files:
        raise CorpusError(f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in an AudioFolder")
    metadata = {}
    if (folder / METADATA_CSV).is_file():
        for row in _read_csv(folder / METADATA_CSV, ("file_name",)):
            metadata[Path(row["file_name"]).as_posix()] = row
    entries = []
    for path in files:
        name = path.relative_to(folder).as_posix()
        if len(path.relative_to(folder).parts) != 2:
            raise CorpusError(f"{folder}: {name} is not in a label folder (expected LABEL/{path.name})")
        row = metadata.get(name, {})
        label = _optional(row, "label") or path.parent.name
        entries.append(
            Entry(path, name, label, _optional(row, "speaker", "speaker_id"), _optional(row, "sex", "gender"))
        )
    unknown = sorted(set(metadata) - {entry.name for entry in entries})
    if unknown:
        raise CorpusError(f"{folder / METADATA_CSV}: file_name not found: {', '.join(unknown[:5])}")
    return entries


def manifest_entries(manifest: Path) -> list[Entry]:
    """A CSV of `path,label[,speaker][,sex]`; relative paths are relative to the CSV's folder."""
    if not manifest.is_file():
        raise FileNotFoundError(f"manifest not found: {manifest}")
    entries = []
    for number, row in enumerate(_read_csv(manifest, ("path", "label")), start=2):
        written, label = (row["path"] or "").strip(), (row["label"] or "").strip()
        if not written or not label:
            raise CorpusError(f"{manifest}, line {number}: empty path or label")
        path = Path(written) if Path(written).is_absolute() else manifest.parent / written
        entries.append(
            Entry(path, written, label, _optional(row, "speaker", "speaker_id"), _optional(row, "sex", "gender"))
        )
    return entries


def label_order(labels: set[str]) -> list[str]:
    """CREMA-D's order when every label is one of its six emotions, else alphabetical."""
    if labels <= set(EMOTIONS):
        return (
            [emotion for emotion in EMOTIONS if emotion in labels] if len(labels) < len(EMOTIONS) else list(EMOTIONS)
        )
    return sorted(labels)


def speaker_actor_id(corpus: str, speaker: str) -> int:
    """A stable number for a speaker of your own data, far from the corpora's (1001-4002) and from other sources'."""
    return 100_000 + zlib.crc32(f"{corpus}\0{speaker}".encode()) % 2_000_000_000


@dataclass
class LabelledConfig(CorpusConfig):
    kind: str = "audiofolder"


class LabelledClips(ClipTable):
    """Your own clips (an AudioFolder or a manifest: `kind`) in the corpora's columns, with your own label set."""

    BUILDER_CONFIG_CLASS = LabelledConfig

    def _clips(self):
        source = Path(self.config.data_dir)
        entries = audiofolder_entries(source) if self.config.kind == "audiofolder" else manifest_entries(source)
        for entry in entries:
            actor_id = None if entry.speaker is None else speaker_actor_id(self.config.corpus, entry.speaker)
            clip = Clip(entry.speaker, actor_id, entry.sex, entry.label, entry.label)
            yield entry.path, entry.name, lambda clip=clip: clip


def _corpus_tag(source: Path) -> str:
    """The `corpus` value of your own data: the folder's (or the manifest's) name."""
    return source.stem if source.suffix.lower() == ".csv" else source.name


def prepare_labelled(source: Path, kind: str, cache_dir: str | None = None):
    """Your own clips, prepared once and cached like a corpus (keyed by the files, the CSV and the code)."""
    entries = audiofolder_entries(source) if kind == "audiofolder" else manifest_entries(source)
    labels = label_order({entry.label for entry in entries})
    if len(labels) < 2:
        raise CorpusError(f"{source}: one label only ({labels[0]}): a classifier needs at least two")
    files = [entry.path for entry in entries if entry.path.is_file()]
    csv_file = source if kind == "manifest" else source / METADATA_CSV
    builder = LabelledClips(
        cache_dir=cache_dir,
        data_dir=str(source),
        corpus=_corpus_tag(source),
        kind=kind,
        labels=tuple(labels),
        fingerprint=_fingerprint(files, [csv_file if csv_file.is_file() else None]),
        hash=code_version("sources.py", "corpora.py", "cremad.py", "audio.py"),
    )
    return load_prepared(builder, source)


def prepare_source(source: Source, cache_dir: str | None = None):
    """(table, report, kind, corpus name) of one source."""
    kind = source.resolve_kind()
    path = source.path.resolve()
    if kind in CUSTOM_KINDS:
        dataset, report = prepare_labelled(path, kind, cache_dir)
        return dataset, report, kind, _corpus_tag(path)
    dataset, report = prepare_corpus(path, kind, cache_dir)
    return dataset, report, kind, corpus_name(path) if kind == "cremad" else kind


def load_sources(specs: list[str], cache_dir: str | None = None):
    """One table of every source (`Source.parse` syntax) and each source's report, as {spec: report}."""
    if not specs:
        raise CorpusError("no data: give at least one folder or manifest")
    sources = [Source.parse(spec) for spec in specs]
    prepared = [prepare_source(source, cache_dir) for source in sources]
    reports = {spec: report for spec, (_, report, _, _) in zip(specs, prepared)}
    if len(prepared) == 1 and prepared[0][2] not in CUSTOM_KINDS:
        return prepared[0][0], reports  # one corpus as it is: CREMA-D keeps its own columns (and caches)
    labels = label_order(set().union(*(dataset.features["label"].names for dataset, *_ in prepared)))
    tables = [_to_mix(dataset, name, labels) for dataset, _, _, name in prepared]
    ids = [clip_id for table in tables for clip_id in table["id"]]
    if len(set(ids)) != len(ids):
        raise CorpusError(f"the same clips appear in two of {', '.join(specs)}: give each folder once")
    return datasets.concatenate_datasets(tables), reports


def _to_mix(dataset: datasets.Dataset, name: str, labels: list[str]) -> datasets.Dataset:
    """A source's table in the mix's columns and label set."""
    if "corpus" not in dataset.column_names:  # CREMA-D (or the synthetic corpus): the actor is the speaker
        dataset = dataset.add_column("corpus", [name] * len(dataset))
        dataset = dataset.add_column("speaker", [str(actor) for actor in dataset["actor_id"]])
    if "sex" not in dataset.column_names:
        dataset = dataset.add_column("sex", [None] * len(dataset))
    dataset = dataset.select_columns(list(MIX_COLUMNS))
    own = dataset.features["label"].names
    features = dataset.features.copy()
    features["label"] = datasets.ClassLabel(names=labels)
    features["actor_id"] = datasets.Value("int32")
    features["sex"] = datasets.Value("string")
    if own == labels:
        return dataset.cast(features)
    lookup = np.array([labels.index(name) for name in own])
    return dataset.map(
        lambda batch: {"label": lookup[np.asarray(batch["label"], dtype=int)].tolist()},
        batched=True,
        features=features,
        desc="label set of the mix",
    )


def describe_sources(parts: list[datasets.Dataset], specs: list[str]) -> list[dict]:
    """What a model records about its data: each corpus (in order of appearance) with its clip and speaker counts."""
    if "corpus" not in parts[0].column_names:  # one corpus as it is: CREMA-D or the synthetic corpus
        actors = set().union(*(part["actor_id"] for part in parts))
        return [{"corpus": corpus_name(specs[0]), "clips": sum(map(len, parts)), "speakers": len(actors)}]
    names = np.concatenate([np.asarray(part["corpus"], dtype=object) for part in parts])
    actors = np.concatenate([np.asarray(part["actor_id"], dtype=object) for part in parts])
    return [
        {
            "corpus": name,
            "clips": int(np.sum(names == name)),
            "speakers": len({actor for actor in actors[names == name] if actor is not None}),
        }
        for name in dict.fromkeys(names.tolist())
    ]
