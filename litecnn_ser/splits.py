"""The train/validation splits of the data a script is given, and what a saved model records about them."""

from __future__ import annotations

import logging
from typing import Any

import datasets
import numpy as np

from data.cremad import CremaDError, PreparationReport, split_cremad
from data.sources import Source, describe_sources, load_sources
from litecnn_ser.arguments import DataArguments

logger = logging.getLogger(__name__)

TRAINING_DATA_KEY = "training_data"
"""Key in a saved model's config.json that records the data it was trained on (folder, split, seed, window)."""


def load_splits(data_args: DataArguments, seed: int) -> tuple[datasets.DatasetDict, dict[str, PreparationReport]]:
    """The train/validation splits, with one clear error (naming the flag) for any folder or split that cannot work."""
    seed = data_args.seed_of_split(seed)
    if not data_args.data_dir:
        raise SystemExit("error: --data_dir is required (the folder of CREMA-D clips, e.g. CREMA-D/AudioWAV)")
    given = " ".join(data_args.data_dir)
    try:
        corpus, reports = load_sources(data_args.data_dir, data_args.dataset_cache_dir)
        splits = split_mix(corpus, data_args.split, data_args.test_size, seed, data_args.validation_corpus)
    except (FileNotFoundError, CremaDError, ValueError) as error:
        raise SystemExit(f"error: --data_dir {given}: {error}") from None
    for name, limit in (("train", data_args.max_train_samples), ("validation", data_args.max_eval_samples)):
        if limit is not None:  # a seeded random subset, not the first clips (those are one actor's)
            splits[name] = splits[name].shuffle(seed=seed).select(range(min(limit, len(splits[name]))))
    for name, part in splits.items():
        if len(part) == 0:
            raise SystemExit(f"error: the {name} split of {given} is empty (--split {data_args.split})")
    for source, report in reports.items():
        (logger.warning if report.skipped else logger.info)("%s: %s", source, report.summary())
    logger.info("split %r (seed %d): %d train, %d validation clips", data_args.split, seed, *map(len, splits.values()))
    return splits, reports


def split_mix(
    corpus: datasets.Dataset, split: str, test_size: float, seed: int, validation_corpus: str | None = None
) -> datasets.DatasetDict:
    """`split_cremad` over the whole table, or, with `validation_corpus`, over that corpus's clips alone (the same
    validation speakers as when it is trained on alone) with every clip of the other corpora in training.

    Speakers never collide across corpora (`actor_id` is unique over a mix), so no speaker is in both splits."""
    if validation_corpus is None:
        return split_cremad(corpus, split, test_size, seed)
    if "corpus" not in corpus.column_names:
        raise CremaDError(f"--validation_corpus {validation_corpus}: it needs a mix of corpora (several --data_dir)")
    names = np.asarray(corpus["corpus"], dtype=object)
    if not np.any(names == validation_corpus):
        present = ", ".join(dict.fromkeys(names.tolist()))
        raise CremaDError(f"--validation_corpus {validation_corpus}: not in the mix (its corpora: {present})")
    inside = np.flatnonzero(names == validation_corpus)
    held_out = split_cremad(corpus.select(inside), split, test_size, seed)["validation"]
    in_validation = np.zeros(len(corpus), dtype=bool)
    in_validation[inside[np.isin(np.asarray(corpus.select(inside)["id"]), held_out["id"])]] = True
    return datasets.DatasetDict(
        train=corpus.select(np.flatnonzero(~in_validation)),
        validation=corpus.select(np.flatnonzero(in_validation)),
    )


def label_names(splits: datasets.DatasetDict) -> list[str]:
    """The data's label set, in its order (CREMA-D's six emotions, or your own labels)."""
    return list(splits["train"].features["label"].names)


def training_data_record(data_args: DataArguments, splits: datasets.DatasetDict, seed: int) -> dict[str, Any]:
    """What a saved model records about its data, so a student can check it learns from the same split."""
    sources = describe_sources(list(splits.values()), data_args.data_dir)
    folders = [str(Source.parse(spec).path.resolve()) for spec in data_args.data_dir]
    actors = (set(splits["train"]["actor_id"]) | set(splits["validation"]["actor_id"])) - {None}
    return {
        "data_dir": folders[0] if len(folders) == 1 else folders,
        "corpus": "+".join(source["corpus"] for source in sources),
        "sources": sources,
        "labels": label_names(splits),
        "actors": len(actors),
        "split": data_args.split,
        "test_size": data_args.test_size,
        "seed": data_args.seed_of_split(seed),
        "training_seed": seed,
        "max_duration_s": data_args.max_duration_s,
        "eval_max_duration_s": data_args.eval_max_duration_s or data_args.max_duration_s,
        "train_crop": data_args.train_crop,
        "speed_perturbation": data_args.speed_perturbation,
        "noise_snr_db": data_args.noise_snr_db,
        "validation_corpus": data_args.validation_corpus,
        "corpus_balance": data_args.corpus_balance,
        "channel_augmentation": data_args.channel_augmentation,
        "trim_silence": data_args.trim_silence,
        "num_train": len(splits["train"]),
        "num_validation": len(splits["validation"]),
        "validation_actors": sorted(set(splits["validation"]["actor_id"]) - {None}),
    }
