"""Where the shipped model lives, and the checks every entry point makes before loading a model.

`SHIPPED_MODEL` is the model this repository ships (`models/litecnn-ser/`, built by `make model`), found from the
repository root, so it is the same folder whatever the working directory. `predict.py`, `eval.py`, `app.py` use it
when no model is given; the torch-free runtime (`python -m litecnn_ser.onnx_runtime`) uses its int8 ONNX graph.

`check_model_path` turns the two failures a user meets most into one line each, instead of a traceback or the
hub's repo-id message: a local folder that does not exist, and weights that are truncated or corrupt.

A model given as a string is a *local path* (never a hub repo id) when it starts with `.`, `/` or `~`, ends with a
path separator, is absolute, or has more than one separator (`org/name` is the most a hub id has); a string that
names an existing folder is of course local too. Anything else (`name`, `org/name`) is a hub repo id.

Nothing here imports torch (the ONNX runtime uses this module); safetensors and huggingface_hub are imported only
when a check needs them.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = ROOT / "models" / "litecnn-ser"
"""The model shipped in the repository, in the hub layout (config, weights, preprocessing, remote code, card)."""
SHIPPED_ONNX = SHIPPED_MODEL / "onnx" / "model_int8.onnx"
"""Its int8 ONNX graph: the torch-free runtime's default."""

_SEPARATORS = tuple({os.sep, os.altsep or os.sep, "/"})


class ModelLoadError(ValueError):
    """A model that cannot be loaded, with one line that says which file or folder and why."""


def looks_like_local_path(model_id: str | os.PathLike) -> bool:
    """Whether `model_id` can only mean a local path (see the module's docstring for the rule)."""
    text = os.fspath(model_id)
    if text.startswith((".", "~", *_SEPARATORS)) or text.endswith(_SEPARATORS) or os.path.isabs(text):
        return True
    return sum(text.count(separator) for separator in _SEPARATORS) > 1


def shipped_model_missing_message(path: Path | None = None) -> str:
    return f"no shipped model at {display(path or SHIPPED_MODEL)}: run `make model`, or give a model"


def display(path: Path) -> str:
    """A path inside the repository relative to its root (as the docs name it), any other path as is."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def check_model_path(model_id: str | os.PathLike) -> None:
    """Raises ModelLoadError when `model_id` is a local path that is not there, or a folder (or a cached hub
    snapshot) whose `*.safetensors` weights are not valid safetensors files. A hub id not cached is not checked
    here: loading it reports what the hub says."""
    text = os.fspath(model_id)
    path = Path(text).expanduser()
    if path.is_dir():
        check_weights(path, text)
        return
    if path.exists():
        raise ModelLoadError(f"{text}: not a model folder (a file; a model is a folder or a hub repo id)")
    if path.resolve() == SHIPPED_MODEL:
        raise ModelLoadError(shipped_model_missing_message())
    if looks_like_local_path(text):
        raise ModelLoadError(f"{text}: no such folder")
    cached = cached_weights(text)
    if cached is not None:
        check_safetensors(cached, cached)


def check_weights(folder: Path, shown: str | None = None) -> None:
    """Every `*.safetensors` file of the folder opened (header and size): a truncated download or an interrupted
    save is reported by name before any model code runs."""
    for weights in sorted(folder.glob("*.safetensors")):
        check_safetensors(weights, os.path.join(shown, weights.name) if shown else weights)


def check_safetensors(path: str | os.PathLike, shown: str | os.PathLike) -> None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(os.fspath(path), "np") as weights:
            weights.keys()
    except (SafetensorError, OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelLoadError(
            f"{os.fspath(shown)}: not a valid safetensors file (truncated or corrupt: {reason}); "
            "re-download or re-train it"
        ) from None


def cached_weights(repo_id: str) -> str | None:
    """The hub cache's model.safetensors of `repo_id`, if it is there (nothing is downloaded)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "model.safetensors")
    except Exception:  # not a valid repo id, no cache: loading will say what is wrong
        return None
    return found if isinstance(found, str) else None


def names_a_model(text: str) -> bool:
    """Whether the first of `predict.py`'s positionals is the model (the old `predict.py MODEL CLIP...` form): a
    folder holding config.json, or a name that is not there and has no audio file extension (a hub id `org/name`,
    or a model folder that is missing, which is then reported as such)."""
    from data.audio import AUDIO_SUFFIXES

    path = Path(text).expanduser()
    if path.is_dir():
        return (path / "config.json").is_file()
    return not path.exists() and path.suffix.lower() not in AUDIO_SUFFIXES


def model_error(model_id: str | os.PathLike) -> str | None:
    """`check_model_path`'s message, or None when the model may be loaded."""
    try:
        check_model_path(model_id)
    except ModelLoadError as error:
        return str(error)
    return None
