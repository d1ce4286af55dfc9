"""Linear probe (as CLIP_benchmark's `linear_probe`): scikit-learn's logistic regression fitted on frozen
image features of a train split and scored on the evaluated items, with a bootstrap 95% interval of its
accuracy over those items. The train split is the kind's `probe.train_split` when it has splits (shards,
fashion_mnist, clip_benchmark); otherwise a seeded stratified share of the items is held out for
scoring and the rest fits the probe, so no scored image is ever fitted on. Image features come through
the encoder, so its embedding cache serves the train split too."""

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from cultureclip.data.sample import draw
from cultureclip.errors import DataError
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.stats import bootstrap_interval
from cultureclip.eval.tasks import TaskResult, breakdown, mean, register


@register("linear_probe", prompts=lambda data: [])
def evaluate(data: EvalDataset, image_features: torch.Tensor, encoder) -> TaskResult:
    fit, scored = probe_split(data)
    train_x, train_y = _train_features(fit, encoder)
    probe = LogisticRegression(C=data.probe.C, max_iter=data.probe.max_iter).fit(train_x, train_y)
    predicted = probe.predict(image_features[scored].double().numpy())
    records = []
    for i, pred in zip(scored, predicted, strict=True):
        it, label = data.items[i], data.classes[data.items[i].label]
        records.append(
            {
                "id": it.id,
                "label": label,
                "pred": str(pred),
                "probe_acc": int(pred == label),
                "category": it.category,
                "culture": it.culture,
            }
        )
    correct = np.array([r["probe_acc"] for r in records])
    per_class = breakdown(records, "label", "probe_acc")
    metrics = {
        "probe_acc": mean(correct),
        "probe_acc_ci95": bootstrap_interval(correct, data.probe.bootstrap, data.probe.seed),
        "mean_per_class": mean(per_class.values()),
        "per_class": per_class,
        "per_category": breakdown(records, "category", "probe_acc"),
        "per_culture": breakdown(records, "culture", "probe_acc"),
        "n": len(records),
        "n_train": len(train_y),
    }
    return TaskResult(metrics, records, ("probe_acc",))


def probe_split(data: EvalDataset) -> tuple[EvalDataset, list[int]]:
    """(what the probe fits on, the positions of the items it is scored on): the loaded train split and
    every item, or a seeded stratified split of the items (`probe.test_share` scored); `probe.train_sample`
    caps the first."""
    spec = data.probe
    fit, scored = data.train, list(range(len(data.items)))
    if fit is None:
        labels = [it.label for it in data.items]
        try:
            train_idx, test_idx = train_test_split(
                np.arange(len(labels)), test_size=spec.test_share, random_state=spec.seed, stratify=labels
            )
        except ValueError as err:
            raise DataError(f"dataset {data.name}: cannot hold out a probe test share ({err})") from None
        fit, scored = data.subset(sorted(train_idx.tolist())), sorted(test_idx.tolist())
    if spec.train_sample is not None:
        fit = fit.subset(draw(spec.train_sample, len(fit.items), spec.seed).tolist())
    return fit, scored


def _train_features(fit: EvalDataset, encoder) -> tuple[np.ndarray, np.ndarray]:
    """The readable training images' features and their class names (an unreadable one is left out)."""
    features, failed = encoder.images([it.image for it in fit.items])
    keep = [i for i in range(len(fit.items)) if i not in failed]
    labels = np.array([fit.classes[fit.items[i].label] for i in keep])
    if len(set(labels)) < 2:
        raise DataError(f"dataset {fit.name}: the linear probe needs training images of 2 classes or more")
    return features[keep].double().numpy(), labels
