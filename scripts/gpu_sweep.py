"""Rank student recipes fast on one GPU: many LiteCNN runs, each a plain PyTorch loop with every tensor on the GPU
that mirrors `train_student.py`'s recipe (configs/student_recipe.json with 2 s windows and mean+std pooling: random
crop, speed 0.9/1.0/1.1 by soxr, per-clip normalisation, AdamW 1e-3 with weight decay 1e-5 off biases as the
Trainer does, cosine schedule with 5% warm-up, gradient norm 1, whole-clip validation up to 6 s, the epoch of lowest
validation loss), distilled from the 0.605 ensemble's out-of-fold logits or from scratch.

    python scripts/sweep_prep.py --data_dir ../shared/datasets/crema-d/AudioFLAC   # -> .sweep/data.pkl (42 MiB)
    python scripts/gpu_sweep.py --data .sweep/data.pkl --output_dir OUT [--parallel 12] [--budget_s 480]
    python scripts/gpu_sweep.py --data .sweep/data.pkl --output_dir OUT --sweep deep_long   # 7 blocks, 80-160 epochs
    python scripts/gpu_sweep.py --summarise results/gpu_sweep/results.jsonl --output_dir results/gpu_sweep

`--sweep recipe` (the default) is the 3-block sweep of the README's "A recipe sweep on a GPU"; `--sweep deep_long`
asks whether distillation raises the ceiling of the 7-block student (`configs/student_recipe_deep.json`) given a long
schedule: from scratch, the eGeMAPS hint alone and the 0.605 ensemble + hint at 80 and 160 epochs, after two
20-epoch runs that calibrate the loop against the CPU's `train_student.py` rows (seed 42: 0.540 and 0.582).

A ranking tool, not a source of reported numbers: the clips travel as Opus (lossy: a trained student scores within
half a point on them) and the loop is not the Trainer. Numbers that count are re-measured on the CPU with
`train_student.py` on the original clips. Each finished run is appended to OUT/results.jsonl at once, so a sweep cut
short by its time budget still reports. On one H200 a 40-epoch run takes 34 s alone; runs side by side share the GPU
by time slices (12 at once: 370 s), so --parallel buys almost nothing over running them one after another.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import multiprocessing as mp
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's modules

WINDOW = 32000  # 2 s at 16 kHz, the recipe's --max_duration_s 2.0
EVAL_WINDOW = 96000  # --eval_max_duration_s 6.0
SPEEDS = (0.9, 1.0, 1.1)


LAYOUT_KEYS = ("pooling", "block_channels", "classifier_hidden_size")


def layout(name: str) -> dict:
    """LiteCNNConfig arguments of a sweep layout: "3 blocks" is the paper's LiteCNN with mean+std pooling (the
    classifier narrowed to keep 1.08M parameters), "7 blocks" the layout of configs/student_recipe_deep.json,
    read from that file so that the two cannot drift apart."""
    if name == "3 blocks":
        return {"pooling": "mean_std", "classifier_hidden_size": 1990}
    if name == "7 blocks":
        recipe = json.loads((ROOT / "configs" / "student_recipe_deep.json").read_text())
        return {key: recipe[key] for key in LAYOUT_KEYS}
    raise ValueError(f"unknown layout {name!r}: '3 blocks' or '7 blocks'")


def arms(sweep: str = "recipe") -> list[dict]:
    """The runs of a sweep, most informative first (a time budget cuts the tail)."""
    base = {
        "epochs": 40,
        "alpha": 0.5,
        "temperature": 2.0,
        "lr": 1e-3,
        "mixup": 0.0,
        "hint": 0.0,
        "layout": "3 blocks",
    }
    runs = []

    def add(name, seeds, **changes):
        for seed in seeds:
            runs.append({**base, **changes, "name": name, "seed": seed})

    if sweep == "deep_long":
        base["layout"] = "7 blocks"
        add("deep_scratch_e20", (42,), teacher=False, epochs=20)
        add("deep_distilled_hint3_e20", (42,), teacher=True, hint=3.0, epochs=20)
        for seeds in ((42,), (1, 2)):  # one seed of every arm before the others' second and third
            add("deep_scratch_e80", seeds, teacher=False, epochs=80)
            add("deep_hint3_e80", seeds, teacher=False, hint=3.0, epochs=80)
            add("deep_distilled_hint3_e80", seeds, teacher=True, hint=3.0, epochs=80)
        add("deep_scratch_e160", (42,), teacher=False, epochs=160)
        add("deep_distilled_hint3_e160", (42,), teacher=True, hint=3.0, epochs=160)
        return runs
    if sweep != "recipe":
        raise ValueError(f"unknown sweep {sweep!r}: 'recipe' or 'deep_long'")
    add("scratch_e40", (42, 1, 2), teacher=False)
    add("distilled_e40", (42, 1, 2), teacher=True)
    add("distilled_e40_T4", (42, 1), teacher=True, temperature=4.0)
    add("distilled_e40_a0.2", (42, 1), teacher=True, alpha=0.2)
    add("distilled_e40_mixup", (42, 1), teacher=True, mixup=0.4)
    add("distilled_e40_hint1", (42, 1), teacher=True, hint=1.0)
    add("scratch_e80", (42, 1), teacher=False, epochs=80)
    add("distilled_e80", (42, 1), teacher=True, epochs=80)
    add("scratch_e40_mixup", (42, 1), teacher=False, mixup=0.4)
    add("distilled_e40_T1", (42, 1), teacher=True, temperature=1.0)
    add("distilled_e40_lr3e-3", (42,), teacher=True, lr=3e-3)
    add("scratch_e40_lr3e-3", (42,), teacher=False, lr=3e-3)
    add("distilled_e40_T4_a0.2", (42, 1), teacher=True, temperature=4.0, alpha=0.2)
    add("distilled_e40_a0", (42, 1), teacher=True, alpha=0.0)
    add("scratch_e160", (42,), teacher=False, epochs=160)
    add("distilled_e160", (42,), teacher=True, epochs=160)
    add("distilled_e40_T4", (2,), teacher=True, temperature=4.0)
    add("distilled_e40_a0.2", (2,), teacher=True, alpha=0.2)
    add("distilled_e40_mixup", (2,), teacher=True, mixup=0.4)
    add("distilled_e40_hint1", (2,), teacher=True, hint=1.0)
    add("scratch_e80", (2,), teacher=False, epochs=80)
    add("distilled_e80", (2,), teacher=True, epochs=80)
    return runs


def decode(blob: bytes) -> np.ndarray:
    import soundfile as sf

    return sf.read(io.BytesIO(blob), dtype="float32")[0]


def speeds_of(waveform: np.ndarray) -> list[np.ndarray]:
    from data.views import change_speed

    return [change_speed(waveform, speed) for speed in SPEEDS]


def flatten(clips: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.array([clip.size for clip in clips], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.concatenate(clips).astype(np.float32), starts, lengths


def prepare(data_path: str, cache: Path, workers: int) -> None:
    """Decodes every clip once and makes the three speed versions of the training clips, as flat arrays."""
    with open(data_path, "rb") as file:
        data = pickle.load(file)
    with mp.Pool(workers) as pool:
        validation = pool.map(decode, data["validation"]["opus"], chunksize=16)
        train = pool.map(decode, data["train"]["opus"], chunksize=16)
        versions = pool.map(speeds_of, train, chunksize=16)
    arrays = {}
    for index in range(len(SPEEDS)):
        arrays[f"train{index}"], arrays[f"train{index}_starts"], arrays[f"train{index}_lengths"] = flatten(
            [v[index] for v in versions]
        )
    arrays["val"], arrays["val_starts"], arrays["val_lengths"] = flatten([clip[:EVAL_WINDOW] for clip in validation])
    arrays["train_labels"] = data["train"]["label"]
    arrays["val_labels"] = data["validation"]["label"]
    arrays["teacher_logits"] = data["train"]["teacher_logits"]
    arrays["hints"] = data["train"]["hints"].astype(np.float32)
    np.savez(cache, **arrays)


def normalise(batch, mask):
    """Zero mean, unit variance over each clip's real samples (Wav2Vec2FeatureExtractor's do_normalize); padding 0."""
    import torch

    count = mask.sum(1, keepdim=True).clamp(min=1)
    mean = (batch * mask).sum(1, keepdim=True) / count
    var = (((batch - mean) * mask) ** 2).sum(1, keepdim=True) / count
    return ((batch - mean) / torch.sqrt(var + 1e-7)) * mask


def gather(flat, starts, lengths, index, offsets, window):
    """Windows of `window` samples from clips `index` starting at `offsets` (shorter clips: zero-padded + mask)."""
    import torch

    positions = torch.arange(window, device=flat.device)
    valid = positions[None, :] < (lengths[index] - offsets)[:, None]
    where = (starts[index] + offsets)[:, None] + positions[None, :]
    batch = flat[where.clamp(max=flat.numel() - 1)] * valid
    return batch, valid.float()


def soft_target_loss(logits, hard, teacher_probs=None, alpha: float = 0.5, temperature: float = 2.0):
    """`distillation.distillation_loss` with label and teacher distributions as targets (mixup mixes both);
    plain cross-entropy without a teacher."""
    from torch.nn import functional as F

    ce = -(hard * F.log_softmax(logits, -1)).sum(-1).mean()
    if teacher_probs is None:
        return ce
    kl = F.kl_div(F.log_softmax(logits / temperature, -1), teacher_probs, reduction="batchmean")
    return alpha * ce + (1 - alpha) * temperature**2 * kl


def run_one(args: tuple) -> dict:
    config, cache, device = args
    import torch
    from torch.nn import functional as F
    from transformers import get_cosine_schedule_with_warmup

    from configuration_litecnn import LiteCNNConfig
    from modeling_litecnn import LiteCNNForAudioClassification

    started = time.time()
    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = True  # fixed shapes: 32 x 2 s in training, 64 x 6 s in validation
    torch.manual_seed(config["seed"])
    generator = torch.Generator(device=device).manual_seed(config["seed"])
    data = np.load(cache)
    to = lambda name, dtype=None: torch.as_tensor(data[name], device=device, dtype=dtype)  # noqa: E731
    train = [(to(f"train{i}"), to(f"train{i}_starts"), to(f"train{i}_lengths")) for i in range(len(SPEEDS))]
    val, val_starts, val_lengths = to("val"), to("val_starts"), to("val_lengths")
    labels, val_labels = to("train_labels", torch.long), to("val_labels", torch.long)
    teacher = to("teacher_logits", torch.float32)
    hints = to("hints", torch.float32)
    num_train, num_labels = len(labels), teacher.shape[1]

    model_config = LiteCNNConfig(
        **layout(config["layout"]),
        id2label={i: str(i) for i in range(num_labels)},
        label2id={str(i): i for i in range(num_labels)},
    )
    model = LiteCNNForAudioClassification(model_config).to(device)
    head = torch.nn.Linear(model_config.hidden_size, hints.shape[1]).to(device) if config["hint"] else None
    parameters = list(model.named_parameters()) + (list(head.named_parameters()) if head else [])
    no_decay = [p for n, p in parameters if "bias" in n]  # the Trainer's rule (it has no LayerNorm to spare here)
    decay = [p for n, p in parameters if "bias" not in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 1e-5}, {"params": no_decay, "weight_decay": 0.0}], lr=config["lr"]
    )
    batch_size = 32
    steps_per_epoch = math.ceil(num_train / batch_size)
    total = steps_per_epoch * config["epochs"]
    scheduler = get_cosine_schedule_with_warmup(optimizer, math.ceil(0.05 * total), total)
    alpha, temperature = config["alpha"], config["temperature"]

    def evaluate():
        model.eval()
        logits = []
        with torch.no_grad():
            for first in range(0, len(val_labels), 64):
                index = torch.arange(first, min(first + 64, len(val_labels)), device=device)
                batch, mask = gather(val, val_starts, val_lengths, index, torch.zeros_like(index), EVAL_WINDOW)
                logits.append(model(normalise(batch, mask), attention_mask=mask.long()).logits)
        model.train()
        logits = torch.cat(logits)
        return F.cross_entropy(logits, val_labels).item(), logits

    history, best = [], (math.inf, None, None)
    for epoch in range(config["epochs"]):
        order = torch.randperm(num_train, device=device, generator=generator)
        speed = torch.randint(len(SPEEDS), (num_train,), device=device, generator=generator)
        losses = []
        for step in range(steps_per_epoch):
            index = order[step * batch_size : (step + 1) * batch_size]
            batch = torch.empty(len(index), WINDOW, device=device)
            mask = torch.empty_like(batch)
            for s, (flat, starts, lengths) in enumerate(train):
                chosen = speed[index] == s
                if not chosen.any():
                    continue
                clips = index[chosen]
                room = (lengths[clips] - WINDOW).clamp(min=0)
                offsets = (torch.rand(len(clips), device=device, generator=generator) * (room + 1)).long()
                batch[chosen], mask[chosen] = gather(flat, starts, lengths, clips, offsets, WINDOW)
            inputs = normalise(batch, mask)
            hard = F.one_hot(labels[index], num_labels).float()
            soft = teacher[index]
            hint_targets = hints[index]
            if config["mixup"]:
                lam = float(
                    np.random.default_rng([config["seed"], epoch, step]).beta(config["mixup"], config["mixup"])
                )
                perm = torch.randperm(len(index), device=device, generator=generator)
                inputs = lam * inputs + (1 - lam) * inputs[perm]
                mask = torch.maximum(mask, mask[perm])
                hard = lam * hard + (1 - lam) * hard[perm]
                teacher_probs = lam * F.softmax(soft / temperature, -1) + (1 - lam) * F.softmax(
                    soft[perm] / temperature, -1
                )
                hint_targets = lam * hint_targets + (1 - lam) * hint_targets[perm]
            else:
                teacher_probs = F.softmax(soft / temperature, -1)
            outputs = model(inputs, attention_mask=mask.long(), output_hidden_states=head is not None)
            loss = soft_target_loss(
                outputs.logits, hard, teacher_probs if config["teacher"] else None, alpha, temperature
            )
            if head is not None:
                loss = loss + config["hint"] * F.mse_loss(head(outputs.hidden_states[-1]), hint_targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in parameters], 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.detach())
        val_loss, logits = evaluate()
        accuracy = (logits.argmax(-1) == val_labels).float().mean().item()
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": torch.stack(losses).mean().item(),
                "val_loss": val_loss,
                "accuracy": accuracy,
            }
        )
        if val_loss < best[0]:
            best = (val_loss, accuracy, epoch + 1)
    return {
        **config,
        "accuracy": best[1],
        "best_epoch": best[2],
        "val_loss": best[0],
        "last_accuracy": history[-1]["accuracy"],
        "history": history,
        "wall_s": round(time.time() - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=".sweep/data.pkl")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--summarise", nargs="+", type=Path, help="only summarise these results.jsonl files")
    parser.add_argument("--parallel", type=int, default=12)
    parser.add_argument("--budget_s", type=float, default=480, help="stop starting runs after this; report those done")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sweep", default="recipe", choices=("recipe", "deep_long"), help="which runs (see above)")
    parser.add_argument("--only", nargs="*", help="run names to run (default: all of the sweep, in order)")
    parser.add_argument("--epochs", type=int, help="override every run's epochs (a smoke test)")
    args = parser.parse_args()
    started = time.time()
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if args.summarise:
        return summarise(args.summarise, output)
    cache = output.parent / "sweep_arrays.npz" if args.device != "cuda" else Path("/tmp/sweep_arrays.npz")
    if not cache.exists():
        prepare(args.data, cache, max(1, mp.cpu_count() - 1))
    print(f"prepared in {time.time() - started:.0f} s", flush=True)
    runs = [r for r in arms(args.sweep) if not args.only or r["name"] in args.only]
    if args.epochs:
        runs = [{**r, "epochs": args.epochs} for r in runs]
    context = mp.get_context("spawn")
    results = output / "results.jsonl"
    with context.Pool(args.parallel, maxtasksperchild=1) as pool:
        pending = [(run, pool.apply_async(run_one, ((run, str(cache), args.device),))) for run in runs]
        while pending and time.time() - started < args.budget_s:
            time.sleep(1)
            for run, job in [item for item in pending if item[1].ready()]:
                pending.remove((run, job))
                try:
                    result = job.get()
                except Exception as error:  # one broken arm must not cost the others their results
                    print(f"{run['name']} seed {run['seed']} failed: {type(error).__name__}: {error}", flush=True)
                    continue
                with results.open("a") as file:
                    file.write(json.dumps(result) + "\n")
                print(
                    f"{time.time() - started:5.0f} s  {result['name']:24s} seed {result['seed']:2d}  "
                    f"acc {result['accuracy']:.3f} (epoch {result['best_epoch']}, last {result['last_accuracy']:.3f}) "
                    f"{result['wall_s']} s",
                    flush=True,
                )
        for run, _ in pending:
            print(f"budget spent: {run['name']} seed {run['seed']} unfinished", flush=True)
        pool.terminate()
    summarise([results], output)


def summarise(paths: list[Path], output: Path) -> None:
    """summary.md (accuracy per arm, mean ± sd over seeds) and curves.png (mean validation accuracy per epoch)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    arms_seen: dict[str, list[dict]] = {}
    for path in paths:
        for line in Path(path).read_text().splitlines() if Path(path).exists() else []:
            result = json.loads(line)
            arms_seen.setdefault(result["name"], []).append(result)
    lines = [
        "| arm | seeds | accuracy (lowest validation loss) | last epoch | per seed |",
        "|---|---:|---:|---:|---|",
    ]
    figure, axes = plt.subplots(figsize=(8, 5))
    for name, results in arms_seen.items():
        best = np.array([r["accuracy"] for r in results])
        last = np.array([r["last_accuracy"] for r in results])
        sd = lambda values: np.std(values, ddof=1) if len(values) > 1 else 0.0  # noqa: E731
        lines.append(
            f"| {name} | {len(results)} | {best.mean():.3f} ± {sd(best):.3f} | {last.mean():.3f} ± {sd(last):.3f} | "
            + " / ".join(f"{r['accuracy']:.3f} (seed {r['seed']})" for r in results)
            + " |"
        )
        epochs = min(len(r["history"]) for r in results)
        curve = np.mean([[h["accuracy"] for h in r["history"][:epochs]] for r in results], axis=0)
        axes.plot(range(1, epochs + 1), curve, label=f"{name} ({len(results)})", lw=1.5 if "scratch" in name else 1)
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy (10 unseen actors), mean over seeds")
    axes.set_ylim(bottom=0.3)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(output / "curves.png", dpi=120)
    (output / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
