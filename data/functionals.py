"""openSMILE functionals of every clip (eGeMAPS: 88 features, ComParE 2016: 6,373), computed once and cached.

The `opensmile` package ships its own binary (no system install). A feature set's functionals summarise a whole
clip (or one view of it, see `data.views`) in one vector: the input of the classical teachers (`litecnn_ser/feature_teacher.py`).
The cache is an `.npz` beside the dataset's Arrow files, keyed by the feature set, the view, the clips (ids and
corpus cache) and the openSMILE version, so it is never stale and never recomputed for the same input.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import datasets
import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from data.audio import SAMPLING_RATE, load_audio
from data.views import View, apply_view

logger = logging.getLogger(__name__)

EXTRACT_CHUNK = 64
"""Clips per job of the parallel extraction."""
FEATURE_SETS = ("eGeMAPSv02", "ComParE_2016")
"""The openSMILE functionals a teacher can use: the compact affective set and the large challenge baseline."""


def _opensmile():
    """The `opensmile` module, or one clear error saying how to install it."""
    try:
        import opensmile
    except ImportError:
        raise ImportError("the classical teachers need the `opensmile` package: pip install opensmile") from None
    return opensmile


def smile(feature_set: str):
    """An openSMILE extractor of `feature_set` functionals; a clear error for an unknown name or a missing package."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature set must be one of {FEATURE_SETS}, got {feature_set!r}")
    opensmile = _opensmile()
    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set), feature_level=opensmile.FeatureLevel.Functionals
    )


def functionals(extractor, waveform: np.ndarray) -> np.ndarray:
    """One clip's functionals, float32 `(num_features,)`; non-finite values (a flat pitch track) become 0."""
    values = extractor.process_signal(waveform, SAMPLING_RATE).to_numpy()[0]
    return np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def _extract_rows(audios: list, feature_set: str, view: View | None) -> np.ndarray:
    extractor = smile(feature_set)
    return np.stack(
        [functionals(extractor, apply_view(load_audio(a), view) if view else load_audio(a)) for a in audios]
    )


def extract(
    dataset: datasets.Dataset, feature_set: str, view: View | None = None, num_workers: int | None = None
) -> np.ndarray:
    """`(len(dataset), num_features)` functionals of every clip (of its `view`, if given), in dataset order.

    Chunks of clips go to `num_workers` processes (default: every core); openSMILE itself is single-threaded."""
    audios = dataset.with_format(None)["audio"]
    if not audios:
        raise ValueError("no clips to extract functionals from")
    chunks = [audios[start : start + EXTRACT_CHUNK] for start in range(0, len(audios), EXTRACT_CHUNK)]
    workers = min(num_workers or os.cpu_count() or 1, len(chunks))
    jobs = (delayed(_extract_rows)(chunk, feature_set, view) for chunk in chunks)
    results = Parallel(n_jobs=workers, return_as="generator")(jobs)
    description = f"{feature_set} functionals" + (f" (speed {view.speed:g}, from {view.offset_s:g} s)" if view else "")
    return np.concatenate(list(tqdm(results, total=len(chunks), desc=description, unit=f"x{EXTRACT_CHUNK} clips")))


def cache_dir_of(dataset: datasets.Dataset) -> Path:
    """The folder of the dataset's Arrow cache (every derived table lives beside it)."""
    if not dataset.cache_files:
        raise ValueError("the dataset has no on-disk cache (prepare it with data.cremad.prepare_cremad)")
    return Path(dataset.cache_files[0]["filename"]).parent


def clips_digest(dataset: datasets.Dataset) -> str:
    """Changes with the clips (their ids) and the corpus cache they come from (their audio)."""
    parts = {
        "ids": hashlib.sha256("\n".join(dataset["id"]).encode()).hexdigest(),
        "corpus": sorted({Path(f["filename"]).parent.name for f in dataset.cache_files}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def save_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Writes an `.npz` cache so that an interrupted run never leaves a half-written file behind, and two runs
    filling the same cache at once (two trainings on one machine) each write their own partial file: one shared
    partial name let the first rename pull the file from under the second (`FileNotFoundError`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.stem}.", suffix=".tmp.npz")
    os.close(descriptor)
    partial = Path(name)
    try:
        np.savez(partial, **arrays)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def file_digest(paths: list[Path], digest=None):
    """sha256 over the files' bytes, read in 4 MB chunks (teacher weights can be gigabytes)."""
    digest = digest or hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
    return digest


def cached_functionals(dataset: datasets.Dataset, feature_set: str, view: View | None = None) -> np.ndarray:
    """`extract`, cached on disk beside the dataset: the second call with the same clips, set and view is a read."""
    view = None if view == View() else view  # the identity view is the clip itself: one cache for both
    key = hashlib.sha256(
        json.dumps(
            [feature_set, view.as_tuple() if view else None, clips_digest(dataset), _opensmile().__version__]
        ).encode()
    ).hexdigest()[:20]
    cache_file = cache_dir_of(dataset) / "functionals" / f"{feature_set}-{key}.npz"
    if cache_file.exists():
        return np.load(cache_file)["features"]
    features = extract(dataset, feature_set, view)
    save_npz_atomically(cache_file, features=features, ids=np.array(dataset["id"]))
    logger.info("cached %s functionals of %d clips in %s", feature_set, len(features), cache_file)
    return features
