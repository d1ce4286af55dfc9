"""The objective's terms, each a function of embeddings (so each ablation is a weight of zero).

Labels mark which texts and images show the same concept: a same-label entry that is not the target
is masked out of the softmax, so a twin batch never treats a concept's own second text as a negative.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from cultureclip.config import LossConfig


def _mask_false_negatives(logits: Tensor, row_labels: Tensor | None, col_labels: Tensor | None) -> Tensor:
    if row_labels is None or col_labels is None:
        return logits
    same = row_labels[:, None] == col_labels[None, :]
    target = torch.zeros_like(same)
    target[torch.arange(len(row_labels)), torch.arange(len(row_labels))] = True
    return logits.masked_fill(same & ~target, float("-inf"))


def clip_loss(images: Tensor, texts: Tensor, logit_scale: Tensor, labels: Tensor | None = None) -> Tensor:
    """Symmetric in-batch InfoNCE: image i matches text i."""
    logits = logit_scale * images @ texts.T
    logits = _mask_false_negatives(logits, labels, labels)
    target = torch.arange(len(images), device=images.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def negclip_loss(
    images: Tensor,
    texts: Tensor,
    neg_texts: Tensor,
    logit_scale: Tensor,
    labels: Tensor | None = None,
    neg_labels: Tensor | None = None,
) -> Tensor:
    """InfoNCE where each image also sees every hard-negative text of the batch (B x 2B logits).

    Image i is scored against [texts; neg_texts] with target i; text i against the images with target i.
    """
    target = torch.arange(len(images), device=images.device)
    all_texts = torch.cat([texts, neg_texts])
    all_labels = None if labels is None or neg_labels is None else torch.cat([labels, neg_labels])
    image_logits = _mask_false_negatives(logit_scale * images @ all_texts.T, labels, all_labels)
    text_logits = _mask_false_negatives(logit_scale * texts @ images.T, labels, labels)
    return 0.5 * (F.cross_entropy(image_logits, target) + F.cross_entropy(text_logits, target))


def siglip_loss(
    images: Tensor,
    texts: Tensor,
    logit_scale: Tensor,
    logit_bias: Tensor | None = None,
    labels: Tensor | None = None,
    text_labels: Tensor | None = None,
) -> Tensor:
    """SigLIP's pairwise sigmoid loss: each image-text pair is its own binary task (image i matches text i).

    -sum over pairs of log sigmoid(z_ij * (t * <i, j> + b)) / images, z = +1 for i = j, -1 otherwise. There may
    be more texts than images (the twins' texts as extra negatives); a pair off the diagonal whose labels are
    equal (another text of the image's concept) is left out, as the softmax terms mask it.
    """
    logits = logit_scale * images @ texts.T
    if logit_bias is not None:
        logits = logits + logit_bias
    diagonal = torch.zeros_like(logits, dtype=torch.bool)
    diagonal[torch.arange(len(images)), torch.arange(len(images))] = True
    pair = -F.logsigmoid(torch.where(diagonal, logits, -logits))
    if labels is not None and text_labels is not None:
        pair = pair.masked_fill((labels[:, None] == text_labels[None, :]) & ~diagonal, 0.0)
    return pair.sum() / len(images)


def weight_distance(params: list[Tensor], start: list[Tensor]) -> Tensor:
    """Squared L2 distance of the trainable weights to their starting values (L2-SP)."""
    return sum(((p - p0) ** 2).sum() for p, p0 in zip(params, start, strict=True))


def distill_loss(features: Tensor, base_features: Tensor) -> Tensor:
    """Mean cosine distance to the frozen starting model's embeddings of the same inputs."""
    return (1 - F.cosine_similarity(features, base_features, dim=-1)).mean()


def objective_terms(
    f: dict[str, Tensor], logit_scale: Tensor, cfg: LossConfig, logit_bias: Tensor | None = None
) -> dict[str, Tensor]:
    """The terms with non-zero weight, unweighted, from a batch's embeddings, computed in fp32 whatever autocast
    is around the call: logits of unnormalised embeddings (100 x raw dot products, the paper preset) lose
    about a quarter of the loss's value in bf16. The contrastive terms are softmax or sigmoid as
    `cfg.sigmoid_for` says for the model (with `logit_bias`: a SigLIP).

    `f` holds image/caption/concept embeddings of the pair's two sides ('image', 'caption', 'concept',
    'label' and their 'neg_' twins), and for the preservation term 'base_image', 'generic' and
    'base_generic'. Pairs without a twin side (plain batches) carry only the positive keys. The weight-space
    preservation term (`preserve_kind: weights`) needs the weights, not embeddings: the trainer adds it.
    """
    with torch.autocast(logit_scale.device.type, enabled=False):
        f = {k: v.float() if v.is_floating_point() else v for k, v in f.items()}
        bias = None if logit_bias is None else logit_bias.float()
        contrast = _contrast(logit_scale.float(), bias, cfg.sigmoid_for(logit_bias is not None))
        return _terms(f, contrast, cfg)


Contrast = Callable[[Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None], Tensor]


def _contrast(logit_scale: Tensor, logit_bias: Tensor | None, sigmoid: bool) -> Contrast:
    """(images, texts, labels, extra negative texts or None, their labels) -> the loss of image i matching
    text i, in the sigmoid form (every pair, the negatives as more columns) or the softmax one."""

    def contrast(images, texts, labels, negatives, neg_labels):
        if sigmoid and negatives is None:
            return siglip_loss(images, texts, logit_scale, logit_bias, labels, labels)
        if sigmoid:
            text_labels = None if labels is None or neg_labels is None else torch.cat([labels, neg_labels])
            return siglip_loss(images, torch.cat([texts, negatives]), logit_scale, logit_bias, labels, text_labels)
        if negatives is None:
            return clip_loss(images, texts, logit_scale, labels)
        return negclip_loss(images, texts, negatives, logit_scale, labels, neg_labels)

    return contrast


def _terms(f: dict[str, Tensor], contrast: Contrast, cfg: LossConfig) -> dict[str, Tensor]:
    terms: dict[str, Tensor] = {}
    twin = "neg_image" in f
    if cfg.clip:
        terms["clip"] = contrast(f["image"], f["caption"], f["label"], None, None)
        if twin:
            terms["clip"] = terms["clip"] + contrast(f["neg_image"], f["neg_caption"], f["neg_label"], None, None)
    for name in ("caption", "concept"):
        if getattr(cfg, name):
            if not twin:
                raise ValueError(f"the {name} term needs twin batches (train.sampler=twins)")
            pos, neg = (f[name], f[f"neg_{name}"]) if cfg.twin_negatives else (None, None)
            terms[name] = contrast(f["image"], f[name], f["label"], neg, f["neg_label"]) + contrast(
                f["neg_image"], f[f"neg_{name}"], f["neg_label"], pos, f["label"]
            )
    if cfg.preserve and cfg.preserve_kind == "features":
        terms["preserve"] = distill_loss(f["image_all"], f["base_image"]) + distill_loss(
            f["generic"], f["base_generic"]
        )
    return terms


def weighted_sum(terms: dict[str, Tensor], cfg: LossConfig) -> Tensor:
    return sum(getattr(cfg, name) * value for name, value in terms.items())
