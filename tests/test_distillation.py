"""The distillation loss, checked against the formula written out independently."""

from __future__ import annotations

import pytest
import torch

from litecnn_ser.distillation import DistillationTrainingArguments, distillation_loss


def _batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    student = torch.randn(8, 6, generator=generator, dtype=torch.float64)
    teacher = 3 * torch.randn(8, 6, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 6, (8,), generator=generator)
    return student, teacher, labels


def _by_hand(student, teacher, labels, alpha, temperature):
    """The paper's loss from its definition: sum_c p_t log(p_t / p_s) per clip, averaged; CE averaged."""
    p_student = torch.softmax(student / temperature, dim=-1)
    p_teacher = torch.softmax(teacher / temperature, dim=-1)
    kl = (p_teacher * (p_teacher.log() - p_student.log())).sum(-1).mean()
    ce = -torch.log(torch.softmax(student, dim=-1)[torch.arange(len(labels)), labels]).mean()
    return alpha * ce + (1 - alpha) * temperature**2 * kl


@pytest.mark.parametrize(("alpha", "temperature"), [(0.5, 2.0), (0.2, 4.0), (0.9, 1.0)])
def test_matches_the_formula(alpha, temperature):
    student, teacher, labels = _batch()
    torch.testing.assert_close(
        distillation_loss(student, teacher, labels, alpha, temperature),
        _by_hand(student, teacher, labels, alpha, temperature),
    )


def test_alpha_one_is_cross_entropy_and_ignores_the_teacher():
    student, teacher, labels = _batch()
    expected = torch.nn.functional.cross_entropy(student, labels)
    torch.testing.assert_close(distillation_loss(student, teacher, labels, alpha=1.0), expected)
    torch.testing.assert_close(distillation_loss(student, -teacher, labels, alpha=1.0), expected)


def test_alpha_below_one_depends_on_the_teacher():
    student, teacher, labels = _batch()
    assert not torch.isclose(distillation_loss(student, teacher, labels), distillation_loss(student, -teacher, labels))


def test_equal_logits_give_zero_kl():
    student, _, labels = _batch()
    torch.testing.assert_close(
        distillation_loss(student, student.clone(), labels, alpha=0.0), torch.tensor(0.0, dtype=torch.float64)
    )


def test_soft_term_scales_with_t_squared():
    """With alpha 0 the loss is T^2 * KL(T): check the factor against the KL at that temperature computed directly."""
    student, teacher, labels = _batch(1)
    for temperature in (1.0, 2.0, 5.0):
        kl = torch.nn.functional.kl_div(
            torch.log_softmax(student / temperature, -1),
            torch.softmax(teacher / temperature, -1),
            reduction="batchmean",
        )
        torch.testing.assert_close(distillation_loss(student, teacher, labels, 0.0, temperature), temperature**2 * kl)


def test_gradient_equals_autograd_of_the_written_out_formula():
    student, teacher, labels = _batch(2)
    ours = student.clone().requires_grad_(True)
    reference = student.clone().requires_grad_(True)
    distillation_loss(ours, teacher, labels, 0.5, 2.0).backward()
    _by_hand(reference, teacher, labels, 0.5, 2.0).backward()
    torch.testing.assert_close(ours.grad, reference.grad)
    # and the closed form: d/ds of T^2 KL(T) per clip is T (p_s - p_t); of CE is (softmax(s) - onehot); both / batch
    p_s, p_t = torch.softmax(student / 2.0, -1), torch.softmax(teacher / 2.0, -1)
    onehot = torch.nn.functional.one_hot(labels, 6).double()
    closed = (0.5 * (torch.softmax(student, -1) - onehot) + 0.5 * 2.0 * (p_s - p_t)) / len(labels)
    torch.testing.assert_close(ours.grad, closed)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("alpha", 1.5, "--alpha"),
        ("temperature", 0.0, "--temperature"),
        ("corpus_adversarial_weight", -0.1, "--corpus_adversarial_weight"),
    ],
)
def test_bad_arguments(tmp_path, flag, value, message):
    with pytest.raises(ValueError, match=message):
        DistillationTrainingArguments(output_dir=str(tmp_path), **{flag: value})


def test_the_hint_reads_the_classifiers_own_input_so_training_is_bit_reproducible(tmp_path):
    """The hint's embedding is the tensor the classifier reads, not a second pooling of the last hidden state: one
    backward through the pooling, so the gradients are bit for bit those of one graph (a second pooling sums the
    two gradients in another order, and a 20-epoch run ends elsewhere)."""
    from configuration_litecnn import LiteCNNConfig
    from litecnn_ser.distillation import HINT_HEAD, DistillationTrainer, DistillationTrainingArguments
    from litecnn_ser.transforms import HINT_TARGETS
    from modeling_litecnn import LiteCNNForAudioClassification

    torch.manual_seed(0)
    config = LiteCNNConfig(num_labels=6, block_channels=[16, 32, 32], classifier_hidden_size=24, pooling="mean_std")
    model = LiteCNNForAudioClassification(config).train()
    setattr(model, HINT_HEAD, torch.nn.Linear(config.hidden_size, 5))
    x, y, hints = torch.randn(4, 8000), torch.randint(0, 6, (4,)), torch.randn(4, 5)
    args = DistillationTrainingArguments(output_dir=str(tmp_path), report_to="none", eval_strategy="no")
    trainer = DistillationTrainer(model=model, args=args)
    torch.manual_seed(1)
    trainer.compute_loss(model, {"input_values": x, "labels": y, HINT_TARGETS: hints}).backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    torch.manual_seed(1)
    pooled = model.litecnn(x).pooler_output
    logits = model.classifier(pooled)
    loss = torch.nn.functional.cross_entropy(logits, y)
    (loss + args.hint_weight * torch.nn.functional.mse_loss(getattr(model, HINT_HEAD)(pooled), hints)).backward()
    for mine, reference in zip(got, (p.grad for p in model.parameters())):
        assert torch.equal(mine, reference)


def _tiny_student():
    from configuration_litecnn import LiteCNNConfig
    from modeling_litecnn import LiteCNNForAudioClassification

    torch.manual_seed(0)
    config = LiteCNNConfig(num_labels=6, block_channels=[16, 32, 32], classifier_hidden_size=24, pooling="mean_std")
    return LiteCNNForAudioClassification(config)


def test_mixup_loss_is_the_lambda_weighted_loss_of_the_mixed_waveforms(tmp_path):
    """Written out independently: the student hears lam * x + (1 - lam) * x[perm] (a mixup that left the waveforms
    alone gives other logits) and every term (CE, KL, hint) is weighted by lam against the shuffled targets."""
    from litecnn_ser.distillation import HINT_HEAD, DistillationTrainer, mixup_draw
    from litecnn_ser.transforms import HINT_TARGETS, TEACHER_LOGITS

    model = _tiny_student().train()
    setattr(model, HINT_HEAD, torch.nn.Linear(model.config.hidden_size, 5))
    generator = torch.Generator().manual_seed(3)
    x, teacher = torch.randn(4, 8000, generator=generator), 3 * torch.randn(4, 6, generator=generator)
    y, hints = torch.tensor([0, 1, 2, 3]), torch.randn(4, 5, generator=generator)
    args = DistillationTrainingArguments(
        output_dir=str(tmp_path), report_to="none", eval_strategy="no", mixup_alpha=0.4, seed=7
    )
    trainer = DistillationTrainer(model=model, args=args)
    trainer.state.global_step = 11
    batch = {"input_values": x.clone(), "labels": y, TEACHER_LOGITS: teacher, HINT_TARGETS: hints}
    torch.manual_seed(1)  # the classifier's dropout: the same draws in both passes
    got = trainer.compute_loss(model, batch)

    torch.manual_seed(1)
    lam, perm = mixup_draw(7, 11, 4, 0.4)
    assert 0 < lam < 1 and sorted(perm.tolist()) == [0, 1, 2, 3] and perm.tolist() != [0, 1, 2, 3]
    pooled = model.litecnn(lam * x + (1 - lam) * x[perm]).pooler_output
    logits, hinted = model.classifier(pooled), getattr(model, HINT_HEAD)(pooled)

    def term(labels, teacher, hints):
        return _by_hand(logits, teacher, labels, 0.5, 2.0) + torch.nn.functional.mse_loss(hinted, hints)

    expected = lam * term(y, teacher, hints) + (1 - lam) * term(y[perm], teacher[perm], hints[perm])
    torch.testing.assert_close(got, expected)
    unmixed = model.classifier(model.litecnn(x).pooler_output)
    assert not torch.allclose(got, _by_hand(unmixed, teacher, y, 0.5, 2.0), atol=1e-3)


def test_mixup_draws_depend_on_the_seed_and_step_only_and_never_touch_evaluation(tmp_path):
    from litecnn_ser.distillation import DistillationTrainer, mixup_draw

    first, again = mixup_draw(42, 100, 32, 0.2), mixup_draw(42, 100, 32, 0.2)
    assert first[0] == again[0] and (first[1] == again[1]).all()  # what a resumed run at step 100 draws
    assert mixup_draw(42, 101, 32, 0.2)[0] != first[0] and mixup_draw(43, 100, 32, 0.2)[0] != first[0]

    model = _tiny_student().eval()
    args = DistillationTrainingArguments(
        output_dir=str(tmp_path), report_to="none", eval_strategy="no", mixup_alpha=1.0
    )
    x, y = torch.randn(3, 8000), torch.tensor([0, 4, 5])
    with torch.no_grad():
        got = DistillationTrainer(model=model, args=args).compute_loss(model, {"input_values": x, "labels": y})
        torch.testing.assert_close(got, torch.nn.functional.cross_entropy(model(x).logits, y))


def test_negative_mixup_alpha_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--mixup_alpha"):
        DistillationTrainingArguments(output_dir=str(tmp_path), mixup_alpha=-0.1)


def test_the_corpus_head_learns_the_corpus_while_the_embedding_gets_the_reversed_ramped_gradient(tmp_path):
    """Against the gradients written out without any reversal: the corpus head's own weights get the plain gradient
    of `weight * CE(corpus)` (it learns to tell the corpora apart), every network weight gets the classification
    gradient minus `scale` times the corpus gradient (a reversal that forgot the sign, the scale or the ramp fails)."""
    from litecnn_ser.distillation import CORPUS_HEAD, DistillationTrainer, attach_corpus_head, reversal_scale
    from litecnn_ser.transforms import CORPUS_LABELS

    assert reversal_scale(0, 100) == 0.0 and reversal_scale(100, 100) == pytest.approx(1.0, abs=1e-4)
    assert reversal_scale(10, 100) == pytest.approx(2 / (1 + torch.exp(torch.tensor(-1.0)).item()) - 1)
    model = _tiny_student().train()
    head = attach_corpus_head(model, 3)
    generator = torch.Generator().manual_seed(5)
    x, y, corpora = torch.randn(6, 8000, generator=generator), torch.arange(6), torch.tensor([0, 1, 2, 0, 1, 2])
    args = DistillationTrainingArguments(
        output_dir=str(tmp_path), report_to="none", eval_strategy="no", corpus_adversarial_weight=0.7
    )
    trainer = DistillationTrainer(model=model, args=args)
    trainer.state.global_step, trainer.state.max_steps = 30, 100
    scale = reversal_scale(30, 100)
    assert 0.9 < scale < 1.0
    torch.manual_seed(1)
    trainer.compute_loss(model, {"input_values": x, "labels": y, CORPUS_LABELS: corpora}).backward()
    network = [p for name, p in model.named_parameters() if not name.startswith(CORPUS_HEAD)]
    got_network, got_head = [p.grad.clone() for p in network], [p.grad.clone() for p in head.parameters()]

    model.zero_grad()
    torch.manual_seed(1)
    pooled = model.litecnn(x).pooler_output
    classification = torch.nn.functional.cross_entropy(model.classifier(pooled), y)
    corpus = 0.7 * torch.nn.functional.cross_entropy(head(pooled), corpora)
    plain = torch.autograd.grad(classification, network, retain_graph=True, allow_unused=True)
    adversary = torch.autograd.grad(corpus, network + list(head.parameters()), allow_unused=True)
    for mine, c, a in zip(got_network, plain, adversary[: len(network)]):
        c = torch.zeros_like(mine) if c is None else c
        a = torch.zeros_like(mine) if a is None else a
        torch.testing.assert_close(mine, c - scale * a)
    assert any(a is not None and a.abs().sum() > 0 for a in adversary[: len(network)])  # the term reaches the net
    for mine, a in zip(got_head, adversary[len(network) :]):
        torch.testing.assert_close(mine, a)
