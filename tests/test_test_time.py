"""experiments/cross_corpus/test_time.py: batch norm mixed with one clip's statistics is the model itself at w = 1,
instance normalisation at w = 0, and in between normalises by the statistics of the mixture of the two."""

from __future__ import annotations

import numpy as np
import pytest
import test_time
import torch
from test_adaptation import normalised, target_clips, tiny_model

from litecnn_ser.adaptation import adapt_batch_norm


@pytest.fixture
def batch_norm() -> torch.nn.BatchNorm1d:
    """A batch norm whose running statistics are those of `training_frames()`, with a non-trivial affine."""
    norm = torch.nn.BatchNorm1d(3).eval()
    frames = training_frames()
    norm.running_mean.copy_(frames.mean(1))
    norm.running_var.copy_(frames.var(1, unbiased=False))
    norm.weight.data = torch.tensor([1.5, 0.5, 2.0])
    norm.bias.data = torch.tensor([0.1, -0.2, 0.3])
    return norm


def training_frames() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).normal([[0.0], [2.0], [-1.0]], [[1.0], [0.5], [3.0]], (3, 400)))


def clip() -> torch.Tensor:  # (1, channels, frames): another setup, other means and spreads
    return torch.from_numpy(np.random.default_rng(1).normal([[1.0], [0.0], [4.0]], [[2.0], [0.5], [1.0]], (1, 3, 400)))


def affine(norm, normalised: torch.Tensor) -> torch.Tensor:
    return normalised * norm.weight.view(1, -1, 1) + norm.bias.view(1, -1, 1)


def test_weight_one_is_the_batch_norm_itself_and_zero_is_instance_normalisation(batch_norm):
    x = clip().float()
    batch_norm.float()
    expected = batch_norm(x)
    weight = test_time.with_clip_statistics(batch_norm)
    torch.testing.assert_close(batch_norm(x), expected)
    weight["w"] = 0.0
    instance = (x - x.mean(2, keepdim=True)) / torch.sqrt(x.var(2, unbiased=False, keepdim=True) + batch_norm.eps)
    torch.testing.assert_close(batch_norm(x), affine(batch_norm, instance))
    assert not torch.allclose(batch_norm(x), expected, atol=1e-2)


def test_weight_one_half_normalises_by_the_training_frames_and_the_clip_pooled(batch_norm):
    """Equal numbers of training and clip frames pooled: their mean and variance are the w = 0.5 mixture's."""
    batch_norm.double()
    x = clip()
    pooled = torch.cat([training_frames(), x[0]], dim=1)
    mean, variance = pooled.mean(1).view(1, -1, 1), pooled.var(1, unbiased=False).view(1, -1, 1)
    weight = test_time.with_clip_statistics(batch_norm)
    weight["w"] = 0.5
    torch.testing.assert_close(batch_norm(x), affine(batch_norm, (x - mean) / torch.sqrt(variance + batch_norm.eps)))


def test_a_whole_model_at_weight_one_gives_its_own_logits():
    model = tiny_model().eval()
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((1, 6_000)).astype(np.float32))
    with torch.no_grad():
        expected = model(x).logits
        weight = test_time.with_clip_statistics(model)
        torch.testing.assert_close(model(x).logits, expected)
        weight["w"] = 0.0
        assert not torch.allclose(model(x).logits, expected, atol=1e-3)


def test_scores_are_eval_pys_metrics():
    logits = np.eye(3)[[0, 0, 0, 0, 0, 2]] + 0.01  # predictions
    labels = np.array([0, 0, 0, 0, 1, 2])
    # 5 of 6 right, but the one clip of class 1 is missed: recalls 1, 0, 1
    assert test_time.accuracy_and_uar(logits, labels) == {"accuracy": 0.8333, "uar": 0.6667}


def test_the_votes_marginal_averages_each_clips_shares_not_the_pooled_counts(tmp_path):
    """Two clips, one heard by 8 listeners as neutral, one by 2 as anger / sadness: each clip counts once
    (pooled counts would give neutral 0.8)."""
    table = tmp_path / "tabulatedVotes.csv"
    table.write_text(
        '"","A","D","F","H","N","S","fileName"\n"1",0,0,0,0,8,0,"1001_DFA_NEU_XX"\n"2",1,0,0,0,0,1,"1001_IEO_SAD_HI"\n'
    )
    np.testing.assert_allclose(test_time.votes_marginal(table), [0.25, 0, 0, 0, 0.5, 0.25])


def test_calibration_clips_are_never_scored_and_come_from_the_pool_of_their_own_group():
    groups = {"a": np.arange(0, 10), "b": np.arange(10, 16), "c": np.arange(16, 18)}
    pool = np.array([1, 2, 3, 11, 12, 13, 14, 16])
    draws = test_time.calibration_draws(groups, 3, 20, np.random.default_rng(0), pool)
    assert len(draws) == 20
    for calibration, scored in draws:
        assert len(calibration) == len(scored) == 2  # "c" has 2 rows: no 3 to draw and one left to score
        for chosen, rest, rows in zip(calibration, scored, (groups["a"], groups["b"])):
            assert len(chosen) == 3 and set(chosen) <= set(pool) & set(rows)
            assert set(chosen).isdisjoint(rest) and set(chosen) | set(rest) == set(rows)
    assert len({tuple(c[0]) for c, _ in draws}) > 1  # random draws, not the same clips each time
    assert test_time.calibration_draws(groups, 11, 5, np.random.default_rng(0)) == []


def test_a_reference_moves_the_calibration_mean_to_the_training_setups_not_to_zero():
    """Two emotions; every clip of the new setup leans to emotion 0 by +2. Calibrated with its neutral clips (label
    1) only, plain centring makes neutral look like the average and loses a neutral clip; referenced to the
    training setup's neutral mean, the lean is removed and each clip's own evidence decides."""
    evidence = np.array([1.0, -1.0, 1.0, -1.0, -1.0, -1.0])
    labels = np.array([0, 1, 0, 1, 1, 1])
    log_probabilities = np.stack([2.0 + evidence, -evidence], axis=1)  # emotion 0 favoured by +2 everywhere
    neutral_reference = np.array([-1.0, 1.0])  # on the training setup, neutral clips score (-1, +1)
    draws = [([np.array([3, 4, 5])], [np.array([0, 1, 2])])]
    plain = test_time._per_group_scores(log_probabilities, labels, draws, np.zeros(2))
    referenced = test_time._per_group_scores(log_probabilities, labels, draws, neutral_reference)
    assert referenced["accuracy"] == 1.0
    assert plain["accuracy"] < 1.0  # row 1 (neutral) lands on a tie, argmax emotion 0


def test_the_calibration_table_has_one_column_per_k_and_marks_what_was_not_measured():
    cell = {"draws": 2, "accuracy": 0.5, "accuracy_sd": 0.1, "uar": 0.4, "uar_sd": 0.1}
    scores = {
        "one clip": {"accuracy": 0.25, "uar": 0.2},
        "recording, K=5": cell,
        "recording, K=20": {**cell, "accuracy": 0.6},
        "adabn, K=20": cell,
    }
    table = test_time.calibration_table({"m on savee": scores}).splitlines()
    assert table[2] == "| calibration | K = 5 | K = 20 |"
    assert "| recording | 0.500 ± 0.100 (0.400) | 0.600 ± 0.100 (0.400) |" in table
    assert "| adabn | - | 0.500 ± 0.100 (0.400) |" in table
    assert not any(line.startswith("| speaker") for line in table)  # nothing measured: no row


def test_an_ensemble_averages_log_probabilities_and_counts_its_confusions_by_true_row():
    """Two models, each wrong on a clip where the other is sure: their mean log-probability is right on both; on
    the fourth clip both say anger for sadness, and the confusion matrix counts it in the sadness row."""
    names = ["anger", "neutral", "sadness"]
    labels = np.array([0, 1, 2, 2])
    first = np.log(np.array([[0.9, 0.05, 0.05], [0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.8, 0.1, 0.1]]))
    second = np.log(np.array([[0.3, 0.4, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.2, 0.2]]))
    scores = test_time.ensemble_scores([first, second], labels, names)
    assert scores["model 0"]["accuracy"] == scores["model 1"]["accuracy"] == 0.5
    assert scores["ensemble"]["accuracy"] == 0.75
    assert scores["ensemble"]["confusion"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert scores["ensemble"]["recall_sadness"] == 0.5 and scores["ensemble"]["recall_neutral"] == 1.0
    # the mean of log-probabilities, not of probabilities (which would say anger or sadness here): a near-zero
    # probability from one model is a veto
    veto = [np.log(np.array([[0.7, 0.3, 1e-6]])), np.log(np.array([[1e-6, 0.3, 0.7]]))]
    assert test_time.ensemble_scores(veto, np.array([1]), names)["ensemble"]["accuracy"] == 1.0


@pytest.mark.parametrize(
    "models", [["runs/loco/a/savee"], ["runs/loco/a/savee", "runs/loco/b/tess"]], ids=["one model", "two folds"]
)
def test_an_ensemble_needs_two_models_of_one_fold(models, capsys):
    with pytest.raises(SystemExit) as exit_info:
        test_time.main(["--ensemble", "--models", *models])
    assert exit_info.value.code == 2
    assert "--ensemble: at least 2 --models of one fold" in capsys.readouterr().err


@pytest.mark.parametrize("gain_db", [8.0, -8.0])
def test_a_tilt_moves_the_high_band_against_the_low_by_its_gain(gain_db):
    """A 400 Hz and a 5 kHz tone: after the 2 kHz high shelf, the 5 kHz tone's amplitude relative to the 400 Hz
    one's changes by the gain (within 1 dB: a shelf's skirts); 0 dB returns the clip itself."""
    t = np.arange(32_000) / 16_000
    clip = (np.sin(2 * np.pi * 400 * t) + np.sin(2 * np.pi * 5_000 * t)).astype(np.float32)

    def level_db(x, hz):  # amplitude at `hz` over the second half (the filter settled)
        half = x[16_000:]
        return 20 * np.log10(np.abs(np.fft.rfft(half))[int(hz * half.size / 16_000)])

    out = test_time.shelved(clip, gain_db)
    change = (level_db(out, 5_000) - level_db(out, 400)) - (level_db(clip, 5_000) - level_db(clip, 400))
    assert abs(change - gain_db) < 1.0
    np.testing.assert_allclose(test_time.shelved(clip, 0.0), clip, atol=1e-6)


def test_batch_norm_per_speaker_uses_each_speakers_clips_alone_and_leaves_the_model_as_it_was():
    """One speaker: the corpus's AdaBN. Two: a clip's logits follow its own speaker's clips only, and differ from
    AdaBN on the pooled corpus (the two speakers' setups differ); the model's own statistics are untouched."""
    model = tiny_model().eval()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    first, second = target_clips()[:4], [normalised(x) for x in white_clips(4)]
    inputs = first + second
    with torch.no_grad():
        pooled = adapt_batch_norm(model, inputs)
        pooled_logits = np.stack([pooled(torch.as_tensor(x)[None]).logits[0].numpy() for x in inputs])
    one = test_time.speaker_batch_norm_logits(model, inputs, ["a"] * len(inputs))
    np.testing.assert_allclose(one, pooled_logits, atol=1e-5)
    speakers = ["a"] * len(first) + ["b"] * len(second)
    per_speaker = test_time.speaker_batch_norm_logits(model, inputs, speakers)
    assert not np.allclose(per_speaker, pooled_logits, atol=1e-3)
    alone = test_time.speaker_batch_norm_logits(model, first, ["a"] * len(first))
    np.testing.assert_allclose(per_speaker[: len(first)], alone, atol=1e-5)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name])


def white_clips(n: int) -> list[np.ndarray]:
    return [np.random.default_rng(100 + seed).standard_normal(6_000).astype(np.float32) for seed in range(n)]
