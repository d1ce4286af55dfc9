"""Zero-shot accuracy on held-out images at three grains: concept, within its twin group, generic kind.

concept_acc: the concept's name among all concepts' names ("a photo of gyoza.").
twin_acc:    the concept's name among its twin group's names only: the confusion CultureCLIP targets.
general_acc: the generic noun among all generic nouns ("a photo of a dumpling."), the stand-in for
             general ability: what the base model was trained to know and fine-tuning must keep.
"""

from collections import Counter, defaultdict

import torch
from PIL import Image

from cultureclip.backends.captions import fill
from cultureclip.backends.clip import ClipModel
from cultureclip.config import EvalConfig

METRICS = ("concept_acc", "twin_acc", "general_acc")


@torch.inference_mode()
def embed_images(model: ClipModel, images: list[Image.Image], batch_size: int) -> torch.Tensor:
    chunks = [
        model.encode_images(model.images_to_tensor(images[i : i + batch_size]))
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(chunks)


@torch.inference_mode()
def embed_texts(model: ClipModel, texts: list[str], batch_size: int) -> torch.Tensor:
    return torch.cat(
        [model.encode_texts(model.tokenize(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    )


def evaluate(model: ClipModel, rows: list[dict], images: list[Image.Image], cfg: EvalConfig) -> dict:
    """The three accuracies overall and per category, and the most frequent twin confusions."""
    model.model.eval()
    concepts = list(dict.fromkeys(r["concept_id"] for r in rows))
    names = {r["concept_id"]: r["name"] for r in rows}
    generics = sorted({r["generic"] for r in rows})
    index = {c: i for i, c in enumerate(concepts)}
    image_features = embed_images(model, images, cfg.batch_size)
    concept_sims = (
        image_features
        @ embed_texts(model, [cfg.concept_template.format(name=names[c]) for c in concepts], cfg.batch_size).T
    )
    generic_sims = (
        image_features
        @ embed_texts(model, [fill(cfg.generic_template, {"generic": g}) for g in generics], cfg.batch_size).T
    )
    hits: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    confusions: Counter = Counter()
    for i, row in enumerate(rows):
        truth = row["concept_id"]
        group = [truth] + [t for t in row["twin_ids"] if t in index]
        twin_pick = group[int(concept_sims[i, [index[c] for c in group]].argmax())]
        if twin_pick != truth:
            confusions[(truth, twin_pick)] += 1
        hits["concept_acc"].append((row["category"], concepts[int(concept_sims[i].argmax())] == truth))
        hits["twin_acc"].append((row["category"], twin_pick == truth))
        hits["general_acc"].append((row["category"], generics[int(generic_sims[i].argmax())] == row["generic"]))
    result: dict = {m: _mean(ok for _, ok in hits[m]) for m in METRICS}
    categories = sorted({r["category"] for r in rows})
    result["per_category"] = {c: {m: _mean(ok for cat, ok in hits[m] if cat == c) for m in METRICS} for c in categories}
    result["top_twin_confusions"] = [
        {"true": names[t], "predicted": names[p], "count": n} for (t, p), n in confusions.most_common(5)
    ]
    result["n_images"] = len(rows)
    return result


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")
