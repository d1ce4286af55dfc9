"""A dataset split in CLIP_benchmark's `wds` layout, so `clip_benchmark eval --dataset wds/NAME` runs on it.

OUT/classification, when the items are labelled over two or more classes: classnames.txt,
zeroshot_classification_templates.txt and SPLIT/nshards.txt + SPLIT/0.tar ..., each sample a `png` image
and its `cls` label. OUT/retrieval, when items have captions: dataset_type.txt ("retrieval") and SPLIT/
shards, each sample a `png` image and its captions in `txt`, one a line. Both are written by CLIP_benchmark's
own converters (`clip_benchmark.webdataset_builder`) from the items, class names and templates our evaluator
loads from the same dataset spec, so both tools score the same images against the same prompts.
"""

import contextlib
import string
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from cultureclip.config import DatasetSpec
from cultureclip.errors import ConfigError, DataError, MissingDependencyError
from cultureclip.eval.datasets import load_dataset
from cultureclip.eval.datasets.base import EvalItem
from cultureclip.io import atomic_path, claim_output, mark_done

CLASS_FIELDS = ("c", "name", "generic")
"""Template fields that our evaluator fills with the class name (see eval.tasks.class_prompts)."""


class _Samples(Dataset):
    """(PNG bytes, target) of each item, as CLIP_benchmark's converters read them (decoded in their workers)."""

    def __init__(self, items: list[EvalItem], encode: Callable, target: Callable[[EvalItem], object]):
        self.items, self.encode, self.target = items, encode, target

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[bytes, object]:
        item = self.items[index]
        return self.encode(item.image.open()), self.target(item)


def export_clip_benchmark(spec: DatasetSpec, out: Path) -> dict[str, Path]:
    """Write split `spec.split` of the dataset `spec` names into `out` (atomically), with its templates (or the
    spec's); return {task: the CLIP_benchmark dataset root written for it} (classification, retrieval)."""
    try:
        from clip_benchmark.webdataset_builder import PIL_to_bytes, convert_dataset, convert_retrieval_dataset
    except ImportError:
        raise MissingDependencyError("the CLIP_benchmark export needs: pip install clip-benchmark") from None
    data = load_dataset(spec)
    tasks = [task for task in ("classification", "retrieval") if task in data.supported_tasks()]
    if not tasks:
        raise DataError(f"dataset {data.name}: no labels over two or more classes and no captions: nothing to export")
    encode, out = PIL_to_bytes("png"), Path(out)
    claim_output(out, "export clip-benchmark")
    with atomic_path(out) as tmp, contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        # its converters print progress (our stdout is for result tables) and always start 8 DataLoader workers
        warnings.filterwarnings("ignore", message="This DataLoader will create 8 worker processes")
        if "classification" in tasks:
            samples = _Samples(data.items, encode, _label)
            samples.classes = [_one_line(name, "class name") for name in data.classes]
            samples.templates = [benchmark_template(t) for t in data.templates]
            convert_dataset(samples, spec.split, str(tmp / "classification"), image_format="png", verbose=False)
        if "retrieval" in tasks:
            samples = _Samples([it for it in data.items if it.captions], encode, _captions)
            convert_retrieval_dataset(samples, spec.split, str(tmp / "retrieval"), image_format="png", verbose=False)
        mark_done(tmp, "export clip-benchmark")
    return {task: out / task for task in tasks}


def _label(item: EvalItem) -> int:
    return item.label


def _captions(item: EvalItem) -> list[str]:
    return list(item.captions)


def benchmark_template(template: str) -> str:
    """Our prompt template as CLIP_benchmark's, which fills only {c}: {name} and {generic} become {c}; a field
    it cannot fill (the article {a}, which ours derive from the class name) is a ConfigError naming it."""
    parts = []
    for literal, field, format_spec, conversion in string.Formatter().parse(template):
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is None:
            continue
        if field not in CLASS_FIELDS or format_spec or conversion:
            raise ConfigError(
                f"template {template!r}: CLIP_benchmark fills only {{c}} (the class name), not {{{field}}}"
            )
        parts.append("{c}")
    return _one_line("".join(parts), "template")


def _one_line(text: str, what: str) -> str:
    """CLIP_benchmark reads class names and templates one a line, stripped: others would change on the way."""
    if "\n" in text or text != text.strip():
        raise DataError(f"{what} {text!r}: CLIP_benchmark reads one a line, stripped; this one would not survive")
    return text
