"""The scripts' command lines: data flags (`DataArguments`), the paper's training recipe as defaults
(`PaperTrainingArguments`), and `script.py args.json [--flag value ...]` parsing."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainingArguments

from data.audio import SAMPLING_RATE
from data.cremad import SPLITS
from data.views import View

logger = logging.getLogger(__name__)


@dataclass
class DataArguments:
    data_dir: list[str] | None = field(
        default=None,
        metadata={
            "help": "Folder(s) of clips: CREMA-D's AudioWAV/ (or AudioFLAC/, or a synthetic corpus), RAVDESS, SAVEE "
            "or TESS as distributed, an AudioFolder (one folder per label), or a CSV manifest (path,label[,speaker]). "
            "Several: trained on the mix. KIND=PATH says what a source is (cremad ravdess savee tess audiofolder "
            "manifest); see data/sources.py."
        },
    )
    split: str = field(
        default="stratified",
        metadata={"help": f"One of {SPLITS}: the paper's random 80/20 by emotion, or no actor in two splits."},
    )
    test_size: float = field(default=0.2, metadata={"help": "Validation fraction (of clips, or of actors)."})
    split_seed: int | None = field(
        default=None,
        metadata={
            "help": "Seed of the split (default: --seed, the paper's single seed). Fix it to compare training seeds "
            "on one split: --split_seed 42 --seed 1."
        },
    )
    max_duration_s: float = field(
        default=1.0,
        metadata={
            "help": "Training and evaluation window in seconds (the paper: 1.0). Clips are cut to their first "
            "max_duration_s seconds (or a random window, see --train_crop); shorter clips are zero-padded."
        },
    )
    eval_max_duration_s: float | None = field(
        default=None,
        metadata={
            "help": "Evaluation window in seconds (default: --max_duration_s, the paper). A fully convolutional "
            "student trained on random crops can be evaluated on whole clips, e.g. 6.0."
        },
    )
    train_crop: str = field(
        default="start",
        metadata={"help": "Window of each training clip: 'start' (the paper) or 'random' (a new one every epoch)."},
    )
    speed_perturbation: list[float] | None = field(
        default=None,
        metadata={
            "help": "Speed factors drawn uniformly per training clip and epoch, e.g. 0.9 1.0 1.1 (tempo and pitch "
            "together, Ko et al. 2015). Default: none (the paper)."
        },
    )
    noise_snr_db: list[float] | None = field(
        default=None,
        metadata={"help": "Add white noise at an SNR drawn from [LOW, HIGH] dB per training clip, e.g. 20 40."},
    )
    validation_corpus: str | None = field(
        default=None,
        metadata={
            "help": "With a mix of corpora: draw the validation speakers from this corpus alone (its split exactly as "
            "when it is trained on alone) and train on every clip of the others, e.g. --validation_corpus cremad "
            "keeps CREMA-D's validation actors of --split_seed out. Default: the split is drawn over the whole mix."
        },
    )
    corpus_balance: float = field(
        default=0.0,
        metadata={
            "help": "With a mix of corpora: how much each epoch evens out the corpora. A clip of a corpus of n training "
            "clips is drawn with probability proportional to n ** -balance: 0 draws every clip once (the mix as it "
            "is), 1 gives every corpus the same share of each epoch (small corpora's clips drawn several times), "
            "0.5 is in between. Epochs keep their length."
        },
    )
    channel_augmentation: list[str] | None = field(
        default=None,
        metadata={
            "help": "Recording-condition augmentation of the student's training clips, each with its default "
            "probability (litecnn_ser/augment.py): any of reverb eq telephone codec noise babble. Default: none."
        },
    )
    trim_silence: bool = field(
        default=False,
        metadata={
            "help": "Cut the silence before and after the speech (an energy gate, litecnn_ser/vad.py) before anything "
            "else, in training and evaluation; recorded with the model, so eval.py, predict.py, the pipeline's "
            "callers and the ONNX runtime trim the same way."
        },
    )
    dataset_cache_dir: str | None = field(
        default=None, metadata={"help": "Where the decoded-audio Arrow cache lives (default: the datasets cache)."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use only this many training clips (for quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Use only this many validation clips (for quick runs)."}
    )

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"--split must be one of {SPLITS}, got {self.split!r}")
        if self.train_crop not in ("start", "random"):
            raise ValueError(f"--train_crop must be 'start' or 'random', got {self.train_crop!r}")
        if self.max_duration_s <= 0:
            raise ValueError(f"--max_duration_s must be positive, got {self.max_duration_s}")
        if self.eval_max_duration_s is not None and self.eval_max_duration_s <= 0:
            raise ValueError(f"--eval_max_duration_s must be positive, got {self.eval_max_duration_s}")
        for speed in self.speed_perturbation or ():
            View(speed=speed)  # raises for a factor outside [0.5, 2]
        if self.noise_snr_db is not None and (
            len(self.noise_snr_db) != 2 or self.noise_snr_db[0] > self.noise_snr_db[1]
        ):
            raise ValueError(f"--noise_snr_db takes LOW HIGH in dB (LOW <= HIGH), got {self.noise_snr_db}")
        if self.channel_augmentation:
            from litecnn_ser.augment import ChannelAugmentation

            try:
                ChannelAugmentation.from_names(self.channel_augmentation)
            except ValueError as error:
                raise ValueError(f"--channel_augmentation: {error}") from None
        if not 0 <= self.corpus_balance <= 1:
            raise ValueError(f"--corpus_balance must be between 0 and 1, got {self.corpus_balance}")

    def seed_of_split(self, seed: int) -> int:
        """The split's seed: --split_seed, else the training seed."""
        return seed if self.split_seed is None else self.split_seed

    @property
    def max_samples(self) -> int:
        return int(round(self.max_duration_s * SAMPLING_RATE))

    @property
    def eval_max_samples(self) -> int:
        return int(round((self.eval_max_duration_s or self.max_duration_s) * SAMPLING_RATE))


@dataclass
class PaperTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the paper's recipe as defaults (every one can be overridden with its flag)."""

    do_train: bool = field(default=True, metadata={"help": "Train (False: only evaluate the model as it is)."})
    learning_rate: float = field(default=1e-4, metadata={"help": "Initial learning rate (paper: Adam 1e-4)."})
    weight_decay: float = field(default=1e-5, metadata={"help": "Weight decay (paper: 1e-5)."})
    num_train_epochs: float = field(default=200.0, metadata={"help": "Maximum epochs (paper: 200, early stopping)."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Batch size per device (paper: 32)."})
    per_device_eval_batch_size: int = field(default=32, metadata={"help": "Evaluation batch size per device."})
    eval_strategy: str = field(default="epoch", metadata={"help": "Evaluate every epoch (for plateau and stopping)."})
    save_strategy: str | None = field(
        default=None,
        metadata={
            "help": "When to checkpoint (resumable). Default: with every evaluation (--eval_strategy, and "
            "--eval_steps for 'steps'), which keeping the best checkpoint needs; 'epoch' when evaluation is off."
        },
    )
    logging_strategy: str = field(default="epoch", metadata={"help": "Log the training loss every epoch."})
    lr_scheduler_type: str = field(
        default="reduce_lr_on_plateau", metadata={"help": "Paper: ReduceLROnPlateau on the validation loss."}
    )
    lr_scheduler_kwargs: dict | str | None = field(
        default_factory=lambda: {"patience": 5, "factor": 0.5},
        metadata={"help": "Scheduler arguments as JSON (paper: patience 5, factor 0.5)."},
    )
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Keep the best checkpoint (paper)."})
    metric_for_best_model: str | None = field(
        default="loss", metadata={"help": "Metric of the best checkpoint, the plateau and early stopping."}
    )
    greater_is_better: bool | None = field(default=False, metadata={"help": "Whether a larger metric is better."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept: the best and the last."})
    length_column_name: str = field(
        default="duration_s",
        metadata={
            "help": "Column of clip lengths for --train_sampling_strategy group_by_length (whole-clip batches)."
        },
    )
    seed: int = field(
        default=42, metadata={"help": "Random seed (paper: 42); also the split's seed unless --split_seed is given."}
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Must stay False: the audio column is decoded on the fly."}
    )
    report_to: None | str | list[str] = field(
        default_factory=lambda: ["tensorboard"] if importlib.util.find_spec("tensorboard") else "none",
        metadata={"help": "Where to log: TensorBoard (runs/ in the output folder) when it is installed, else none."},
    )
    early_stopping_patience: int = field(
        default=20, metadata={"help": "Stop after this many evaluations without improvement (paper: 20; 0: off)."}
    )

    def __post_init__(self):
        if self.output_dir is None:
            raise ValueError("--output_dir is required: the folder where the model and its metrics are written")
        evaluates = _option(self.eval_strategy) != "no"
        if not evaluates:  # no evaluation: no best checkpoint to go back to, no plateau to watch
            self.load_best_model_at_end = False
            if _option(self.lr_scheduler_type) == "reduce_lr_on_plateau":
                logger.warning(
                    "--eval_strategy no: ReduceLROnPlateau needs evaluations, the learning rate stays constant"
                )
                self.lr_scheduler_type, self.lr_scheduler_kwargs = "constant", {}
        if self.save_strategy is None:  # follow the evaluation: --load_best_model_at_end refuses anything else
            self.save_strategy = self.eval_strategy if evaluates else "epoch"
            if _option(self.save_strategy) == "steps" and self.eval_steps is not None:
                self.save_steps = self.eval_steps
        super().__post_init__()
        if self.remove_unused_columns:
            raise ValueError("--remove_unused_columns must be False: the audio column is decoded by a transform")


def _option(value) -> str:
    """A `TrainingArguments` option as its string, whether still a string or already converted to its enum."""
    return str(getattr(value, "value", value))


def parse_args(parser, argv: list[str] | None):
    """`script.py args.json [--flag value ...]` or flags, as in the transformers examples: the JSON file's values
    come first and flags after it override them (`train_student.py configs/recipe.json --data_dir ... --seed 1`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0].endswith(".json"):
        path = Path(argv[0])
        if not path.is_file():
            raise SystemExit(f"error: arguments file {path}: no such file")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise SystemExit(f"error: arguments file {path}: not valid JSON ({error})") from None
        argv = json_to_flags(values) + argv[1:]
    try:
        return parser.parse_args_into_dataclasses(args=argv)
    except ValueError as error:  # a flag this script does not take, or a value its dataclasses refuse
        raise SystemExit(
            f"error: {error}" + (" (--help lists the flags)" if "not used" in str(error) else "")
        ) from None


def json_to_flags(values: dict[str, Any]) -> list[str]:
    """{"lr": 1e-3, "speeds": [0.9, 1.1], "flag": true} -> ["--lr", "0.001", "--speeds", "0.9", "1.1", "--flag", "true"]."""
    flags = []
    for name, value in values.items():
        if isinstance(value, list):
            flags += [f"--{name}", *map(str, value)]
        elif isinstance(value, dict):
            flags += [f"--{name}", json.dumps(value)]
        elif isinstance(value, bool):
            flags += [f"--{name}", str(value).lower()]
        elif value is not None:
            flags += [f"--{name}", str(value)]
    return flags
