"""Splits of a mix of corpora: `--validation_corpus` keeps one corpus's own speaker split, and no speaker leaks."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch

from data.cremad import CremaDError, split_cremad
from litecnn_ser.splits import split_mix
from litecnn_ser.trainer import corpus_weights

VALIDATION_ACTORS = [1016, 1024, 1035, 1042, 1056, 1061, 1065, 1070, 1072, 1075]
"""CREMA-D's 10 validation actors of the 50-actor subset, speaker split seed 42: every CREMA-D number here."""


def table(corpus: str, first_actor: int, actors: int, clips_each: int) -> datasets.Dataset:
    rows = [
        {
            "id": f"{corpus}_{actor}_{clip}",
            "actor_id": actor,
            "sex": "Male" if actor % 2 else "Female",
            "corpus": corpus,
            "label": clip % 6,
        }
        for actor in range(first_actor, first_actor + actors)
        for clip in range(clips_each)
    ]
    return datasets.Dataset.from_list(rows)


@pytest.fixture
def mix() -> datasets.Dataset:
    return datasets.concatenate_datasets(
        [table("cremad", 1001, 20, 12), table("savee", 3001, 4, 30), table("tess", 4001, 2, 50)]
    )


def test_validation_corpus_keeps_that_corpus_split_and_trains_on_every_other_clip(mix):
    cremad = mix.filter(lambda row: row["corpus"] == "cremad")
    alone = split_cremad(cremad, "speaker", 0.2, seed=42)
    parts = split_mix(mix, "speaker", 0.2, seed=42, validation_corpus="cremad")
    assert sorted(parts["validation"]["id"]) == sorted(alone["validation"]["id"])
    assert set(parts["validation"]["corpus"]) == {"cremad"}
    train = set(parts["train"]["id"])
    assert {row for row in mix["id"] if not row.startswith("cremad")} <= train  # SAVEE and TESS: all training
    assert len(train) + len(parts["validation"]) == len(mix)
    assert not set(parts["train"]["actor_id"]) & set(parts["validation"]["actor_id"])


def test_the_whole_mix_split_differs_and_never_leaks_a_speaker(mix):
    parts = split_mix(mix, "speaker", 0.2, seed=42)
    assert not set(parts["train"]["actor_id"]) & set(parts["validation"]["actor_id"])
    assert len(set(parts["validation"]["corpus"])) > 1  # drawn over the mix: SAVEE or TESS speakers held out too


def test_validation_corpus_errors_name_the_flag(mix):
    with pytest.raises(CremaDError, match="--validation_corpus ravdess: not in the mix"):
        split_mix(mix, "speaker", 0.2, 42, validation_corpus="ravdess")
    with pytest.raises(CremaDError, match="needs a mix"):
        split_mix(mix.remove_columns("corpus"), "speaker", 0.2, 42, validation_corpus="cremad")


def test_corpus_weights_even_out_the_corpora():
    corpora = ["cremad"] * 300 + ["savee"] * 40 + ["tess"] * 60
    natural = corpus_weights(corpora, 0.0)
    assert torch.equal(natural, torch.ones(400, dtype=torch.double))
    balanced = corpus_weights(corpora, 1.0).numpy()
    shares = [balanced[:300].sum(), balanced[300:340].sum(), balanced[340:].sum()]
    np.testing.assert_allclose(shares, [1.0, 1.0, 1.0])
    half = corpus_weights(corpora, 0.5).numpy()
    assert half[:300].sum() / half.sum() < 300 / 400  # CREMA-D's share shrinks
    assert half[:300].sum() > half[300:340].sum()  # but less than with full balance


def test_real_mix_keeps_the_ten_validation_actors(real_cremad):
    shared = real_cremad.parents[1]
    if not (shared / "savee").is_dir() or not (shared / "tess").is_dir():
        pytest.skip("SAVEE or TESS not found beside CREMA-D")
    from data.sources import load_sources

    corpus, _ = load_sources([f"cremad={real_cremad}", f"savee={shared / 'savee'}", f"tess={shared / 'tess'}"])
    parts = split_mix(corpus, "speaker", 0.2, seed=42, validation_corpus="cremad")
    assert sorted(set(parts["validation"]["actor_id"])) == VALIDATION_ACTORS
    assert len(parts["validation"]) == 820
    assert set(parts["train"]["corpus"]) == {"cremad", "savee", "tess"}
    assert not set(parts["train"]["actor_id"]) & set(parts["validation"]["actor_id"])
