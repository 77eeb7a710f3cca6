"""experiments/cpu_distillation/cpu_table.py --leads: the epoch-range means and leads the README quotes for its curves."""

from __future__ import annotations

import json

import cpu_table
import pytest


def _write_run(results, name: str, curve: list[float]) -> None:
    folder = results / name
    folder.mkdir(parents=True)
    history = [{"epoch": e + 1, "eval_accuracy": a, "eval_loss": 1.0} for e, a in enumerate(curve)]
    history.insert(0, {"epoch": 0.5, "loss": 1.7})  # training-loss entries carry no eval_accuracy
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": history}))


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_table, "RESULTS", tmp_path)
    monkeypatch.setattr(cpu_table, "CURVES", {"toy": {"s_a": "from scratch", "s_b": "distilled"}})
    monkeypatch.setattr(cpu_table, "EPOCH_RANGES", {6: [(2, 3), (4, 6)]})
    _write_run(tmp_path, "s_a_seed1", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    _write_run(tmp_path, "s_a_seed2", [0.3, 0.4, 0.5, 0.6, 0.7, 0.8])  # mean curve 0.2 ... 0.7
    _write_run(tmp_path, "s_b_seed1", [0.5, 0.5, 0.6, 0.6, 0.9, 0.9, 0.9])  # a 7th epoch: cut to the shortest run
    _write_run(tmp_path, "s_b_seed2", [0.5, 0.5, 0.4, 0.6, 0.5, 0.7])  # mean curve 0.5 0.5 0.5 0.6 0.7 0.8
    return tmp_path


def test_mean_curves_average_seeds_epoch_by_epoch_and_cut_to_the_shortest(results):
    means = cpu_table.mean_curves({"s_a": "", "s_b": "", "s_missing": ""})
    assert set(means) == {"s_a", "s_b"}
    seeds, curve = means["s_b"]
    assert seeds == 2
    assert curve == pytest.approx([0.5, 0.5, 0.5, 0.6, 0.7, 0.8])


def test_leads_are_range_means_minus_the_first_curve_with_1_based_inclusive_epochs(results):
    table = cpu_table.leads_table()
    assert "| curve | seeds | epochs 2-3 | epochs 4-6 |" in table
    # Epochs 2-3: from scratch mean(0.3, 0.4) = 0.35, distilled 0.5: +15 points (a 0-based slice would give 0.45).
    # Epochs 4-6: from scratch mean(0.5, 0.6, 0.7) = 0.6, distilled mean(0.6, 0.7, 0.8) = 0.7: +10 points.
    assert "| from scratch | 2 | 0.350 (+0.0) | 0.600 (+0.0) |" in table
    assert "| distilled | 2 | 0.500 (+15.0) | 0.700 (+10.0) |" in table


def test_a_panel_without_its_from_scratch_curve_is_left_out_not_led_over_another(results):
    for seed in (1, 2):
        (results / f"s_a_seed{seed}" / "trainer_state.json").unlink()
    assert cpu_table.leads_table() == []
