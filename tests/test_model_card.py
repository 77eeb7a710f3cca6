"""litecnn_ser.model_card: the model card written beside a student."""

from __future__ import annotations


def test_model_card_tells_ensemble_members_apart():
    """Three fits of one pipeline and an SVM: the card counts the alike ones and names each member's row by its
    folder, so that rows of one kind with different numbers are not read as one teacher."""
    from litecnn_ser import model_card

    def member(folder, kind, accuracy):
        return {"teacher": folder, "teacher_model_type": kind, "validation": {"accuracy": accuracy}}

    distillation = {
        "members": [member(f"runs/mlp_seed{s}", "ComParE_2016 + mlp", 0.57 + s / 100) for s in range(3)]
        + [member("org/egemaps-svm", "eGeMAPSv02 + svm", 0.5)],
        "ensemble_validation": {"accuracy": 0.605},
        "teacher_logits": "out_of_fold",
        "alpha": 0.5,
        "temperature": 2.0,
    }
    assert model_card._how_trained(distillation).startswith(
        "distilled from an ensemble (mean probability) of 3 ComParE_2016 + mlp teachers (hearing whole clips) and "
        "the eGeMAPSv02 + svm teacher (hearing whole clips), through their out-of-fold logits, with alpha 0.5"
    )
    rows = model_card._teacher_rows(distillation)
    assert rows[:2] == [
        "| teacher `mlp_seed0` (ComParE_2016 + mlp) | 0.570 | n/a | n/a |",
        "| teacher `mlp_seed1` (ComParE_2016 + mlp) | 0.580 | n/a | n/a |",
    ]
    assert rows[3].startswith("| teacher `egemaps-svm` (eGeMAPSv02 + svm) | 0.500 |")
    assert rows[4].startswith("| teacher ensemble (mean probability) | 0.605 |") and len(rows) == 5
    single = {**distillation, "members": distillation["members"][:1], "ensemble_validation": None}
    assert model_card._teacher_rows(single) == ["| teacher (ComParE_2016 + mlp) | 0.570 | n/a | n/a |"]


def test_model_card_says_how_the_hint_was_standardised():
    """Each `--hint_normalization` reads differently on the card; the default adds nothing."""
    from litecnn_ser import model_card

    def card(normalization=None):
        hint = {"feature_set": "eGeMAPSv02", "num_features": 88, "hint_weight": 3}
        if normalization:
            hint["normalization"] = normalization
        return model_card.describe_training({"feature_hint": hint})

    assert "each clip's standardised eGeMAPSv02 functionals (a feature hint, weight 3," in card()
    assert "each clip's eGeMAPSv02 functionals standardised within each speaker (a feature hint" in card("per speaker")
    corpus = card("per corpus")
    assert "each clip's eGeMAPSv02 functionals standardised within each training corpus (a feature hint" in corpus


def test_model_card_says_mixstyle_was_used_only_when_it_was():
    from litecnn_ser import model_card

    mixstyle = {"p": 0.5, "alpha": 0.1, "layers": ["stem", "block 1"], "how": "..."}
    said = model_card.describe_training({"mixstyle": mixstyle})
    assert "with MixStyle in training (in 50% of batches" in said
    assert "in the stem and block 1 outputs mixed with another clip's, weight drawn from Beta(0.1, 0.1))" in said
    assert "MixStyle" not in model_card.describe_training({})
    averaged = model_card.describe_training({"weight_averaging": {"decay": 0.997, "how": "..."}})
    assert "the saved weights are a moving average of the training steps' (decay 0.997)" in averaged
    assert "moving average" not in model_card.describe_training({})


def test_model_card_names_the_panel_of_a_votes_teacher():
    from litecnn_ser import model_card

    def card(modality=None):
        member = {"teacher_model_type": "crowd votes", "teacher_parameters": None}
        if modality:
            member["votes_modality"] = modality
        return model_card.describe_training({"distillation": {**member, "alpha": 0.5, "temperature": 2.0}})

    assert "the crowd votes teacher (the votes of listeners who heard each clip's voice alone)" in card("voice")
    assert "(the votes of listeners who saw and heard each clip)" in card("audiovisual")
    assert "the crowd votes teacher (hearing whole clips)" in card()  # a model trained before the panel was recorded
