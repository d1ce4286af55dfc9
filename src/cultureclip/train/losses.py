"""The objective's terms, each a function of embeddings (so each ablation is a weight of zero).

Labels mark which texts and images show the same concept: a same-label entry that is not the target
is masked out of the softmax, so a twin batch never treats a concept's own second text as a negative.
"""

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


def siglip_loss(images: Tensor, texts: Tensor, logit_scale: Tensor, logit_bias: Tensor | None = None) -> Tensor:
    """SigLIP's pairwise sigmoid loss: each image-text pair is its own binary task (match on the diagonal).

    -mean over images of sum over texts of log sigmoid(z_ij * (t * <i, j> + b)), z = +1 on the diagonal, -1 off it.
    """
    logits = logit_scale * images @ texts.T
    if logit_bias is not None:
        logits = logits + logit_bias
    signs = 2 * torch.eye(len(images), device=images.device, dtype=logits.dtype) - 1
    return -F.logsigmoid(signs * logits).sum() / len(images)


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
    about a quarter of the loss's value in bf16.

    `f` holds image/caption/concept embeddings of the pair's two sides ('image', 'caption', 'concept',
    'label' and their 'neg_' twins), and for the preservation term 'base_image', 'generic' and
    'base_generic'. Pairs without a twin side (plain batches) carry only the positive keys. The weight-space
    preservation term (`preserve_kind: weights`) needs the weights, not embeddings: the trainer adds it.
    """
    with torch.autocast(logit_scale.device.type, enabled=False):
        f = {k: v.float() if v.is_floating_point() else v for k, v in f.items()}
        return _terms(f, logit_scale.float(), cfg, None if logit_bias is None else logit_bias.float())


def _terms(f: dict[str, Tensor], logit_scale: Tensor, cfg: LossConfig, logit_bias: Tensor | None) -> dict[str, Tensor]:
    terms: dict[str, Tensor] = {}
    twin = "neg_image" in f
    if cfg.clip:
        terms["clip"] = clip_loss(f["image"], f["caption"], logit_scale, f["label"])
        if twin:
            terms["clip"] = terms["clip"] + clip_loss(f["neg_image"], f["neg_caption"], logit_scale, f["neg_label"])
    for name in ("caption", "concept"):
        if getattr(cfg, name):
            if not twin:
                raise ValueError(f"the {name} term needs twin batches (train.sampler=twins)")
            if cfg.twin_negatives:
                terms[name] = negclip_loss(
                    f["image"], f[name], f[f"neg_{name}"], logit_scale, f["label"], f["neg_label"]
                ) + negclip_loss(f["neg_image"], f[f"neg_{name}"], f[name], logit_scale, f["neg_label"], f["label"])
            else:
                terms[name] = clip_loss(f["image"], f[name], logit_scale, f["label"]) + clip_loss(
                    f["neg_image"], f[f"neg_{name}"], logit_scale, f["neg_label"]
                )
    if cfg.siglip:
        terms["siglip"] = siglip_loss(f["image"], f["caption"], logit_scale, logit_bias)
        if twin:
            terms["siglip"] = terms["siglip"] + siglip_loss(f["neg_image"], f["neg_caption"], logit_scale, logit_bias)
    if cfg.preserve and cfg.preserve_kind == "features":
        terms["preserve"] = distill_loss(f["image_all"], f["base_image"]) + distill_loss(
            f["generic"], f["base_generic"]
        )
    return terms


def weighted_sum(terms: dict[str, Tensor], cfg: LossConfig) -> Tensor:
    return sum(getattr(cfg, name) * value for name, value in terms.items())
