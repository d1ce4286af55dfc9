"""Zero-shot accuracy on the run's held-out images at three grains: concept, within its twin group, generic kind.

concept_acc: the concept's name among all concepts' names ("a photo of gyoza.").
twin_acc:    the concept's name among its twin group's names only: the confusion CultureCLIP targets.
general_acc: the generic noun among all generic nouns ("a photo of a dumpling."), the stand-in for
             general ability: what the base model was trained to know and fine-tuning must keep.
Each is one of the evaluator's tasks (classification, twins, general) on the held-out split.
"""

import torch
from PIL import Image

from cultureclip.backends.clip import ClipModel
from cultureclip.config import EvalConfig
from cultureclip.eval.cache import EmbeddingCache, default_cache_dir, model_fingerprint
from cultureclip.eval.datasets.base import DecodedImage, EvalDataset, EvalItem
from cultureclip.eval.embed import Encoder
from cultureclip.eval.runner import evaluate_dataset

METRICS = ("concept_acc", "twin_acc", "general_acc")
TASKS = {
    "concept_acc": ("classification", "top1"),
    "twin_acc": ("twins", "twin_acc"),
    "general_acc": ("general", "general_acc"),
}


def embed_images(model: ClipModel, images: list[Image.Image], batch_size: int) -> torch.Tensor:
    """Embeddings of images held in memory, batched, without the disk cache."""
    encoder = Encoder(model, EmbeddingCache(None, ""), batch_size, workers=0)
    return encoder.images([DecodedImage(image, str(i)) for i, image in enumerate(images)])[0]


def embed_texts(model: ClipModel, texts: list[str], batch_size: int) -> torch.Tensor:
    """Embeddings of texts, batched, without the disk cache."""
    return Encoder(model, EmbeddingCache(None, ""), batch_size, workers=0).texts(texts)


def world_dataset(rows: list[dict], images: list[Image.Image], cfg: EvalConfig) -> EvalDataset:
    """The held-out split as an evaluation dataset: concepts as classes, twins as candidates."""
    concepts = list(dict.fromkeys(r["concept_id"] for r in rows))
    names = {r["concept_id"]: r["name"] for r in rows}
    index = {c: i for i, c in enumerate(concepts)}
    items = []
    for row, image in zip(rows, images, strict=True):
        label = index[row["concept_id"]]
        twins = tuple(index[t] for t in row["twin_ids"] if t in index)
        items.append(
            EvalItem(
                row["key"],
                DecodedImage(image, row["key"]),
                label,
                (),
                (label, *twins),
                row["twin_group"],
                row["category"],
                row["culture"],
                row["generic"],
            )
        )
    return EvalDataset("held-out", items, [names[c] for c in concepts], [cfg.concept_template], [cfg.generic_template])


def evaluate(
    model: ClipModel, rows: list[dict], images: list[Image.Image], cfg: EvalConfig
) -> tuple[dict, dict[str, list[dict]]]:
    """The three accuracies overall and per category, and the most frequent twin confusions; and for each
    accuracy its per-image records (field named as the accuracy), which paired bootstrap intervals need."""
    cache = EmbeddingCache((cfg.cache_dir or default_cache_dir()) if cfg.cache else None, model_fingerprint(model))
    encoder = Encoder(model, cache, cfg.batch_size, cfg.workers)
    results, _ = evaluate_dataset(world_dataset(rows, images, cfg), [t for t, _ in TASKS.values()], encoder)
    result: dict = {m: results[task].metrics[key] for m, (task, key) in TASKS.items()}
    categories = sorted({r["category"] for r in rows})
    result["per_category"] = {
        c: {m: results[task].metrics["per_category"][c] for m, (task, _) in TASKS.items()} for c in categories
    }
    result["top_twin_confusions"] = results["twins"].metrics["most_confused"][:5]
    result["n_images"] = len(rows)
    records = {m: [{"id": r["id"], m: r[key]} for r in results[task].records] for m, (task, key) in TASKS.items()}
    return result, records
