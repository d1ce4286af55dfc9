import math

import pytest
import torch

from cultureclip.config import LossConfig
from cultureclip.train.losses import (
    clip_loss,
    distill_loss,
    negclip_loss,
    objective_terms,
    siglip_loss,
    weight_distance,
    weighted_sum,
)


def _ce(logits_row, target):
    return -logits_row[target] + math.log(sum(math.exp(v) for v in logits_row))


def test_clip_loss_matches_hand_computation():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    # logits = I @ T.T = [[1, .6], [0, .8]]; columns for the text direction: [[1, 0], [.6, .8]]
    expected = 0.5 * ((_ce([1, 0.6], 0) + _ce([0, 0.8], 1)) / 2 + (_ce([1, 0], 0) + _ce([0.6, 0.8], 1)) / 2)
    assert clip_loss(images, texts, torch.tensor(1.0)).item() == pytest.approx(expected, abs=1e-6)


def test_negclip_adds_the_hard_negatives_to_the_image_side_only():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    negs = torch.tensor([[0.8, 0.6], [0.6, 0.8]])
    scale = 2.0
    # image 0 row: [1, 0, .8, .6] * 2; image 1 row: [0, 1, .6, .8] * 2
    image_side = (_ce([2, 0, 1.6, 1.2], 0) + _ce([0, 2, 1.2, 1.6], 1)) / 2
    text_side = (_ce([2, 0], 0) + _ce([0, 2], 1)) / 2
    got = negclip_loss(images, texts, negs, torch.tensor(scale))
    assert got.item() == pytest.approx(0.5 * (image_side + text_side), abs=1e-6)


def test_same_concept_texts_are_masked_not_negatives():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    negs = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # neg 0 shows concept 1, neg 1 shows concept 0
    labels, neg_labels = torch.tensor([0, 1]), torch.tensor([1, 0])
    masked = negclip_loss(images, texts, negs, torch.tensor(1.0), labels, neg_labels)
    # image 0 sees [t0, t1, n0, n1] = [1, 0, 0, 1]; n1 shows its own concept 0, so it is masked out
    image_side = (_ce([1, 0, 0], 0) + _ce([0, 1, 0], 1)) / 2
    text_side = (_ce([1, 0], 0) + _ce([0, 1], 1)) / 2
    assert masked.item() == pytest.approx(0.5 * (image_side + text_side), abs=1e-6)
    unmasked = negclip_loss(images, texts, negs, torch.tensor(1.0))
    assert unmasked.item() > masked.item()


def test_clip_loss_masks_duplicate_labels():
    images = torch.eye(3)
    texts = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    loss = clip_loss(images, texts, torch.tensor(1.0), labels)
    # logits [[1, 1, 0], [0, 0, 0], [0, 0, 1]]; entries (0, 1) and (1, 0) pair one label and are masked
    rows = (_ce([1, 0], 0) + _ce([0, 0], 1) + _ce([0, 0, 1], 2)) / 3
    assert loss.item() == pytest.approx(rows, abs=1e-6)  # the masked matrix is symmetric: columns == rows


def test_distill_is_zero_on_identical_features_and_two_on_opposite():
    x = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    assert distill_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert distill_loss(x, -x).item() == pytest.approx(2.0, abs=1e-6)


def _features(b=3, d=4, twin=True):
    g = torch.Generator().manual_seed(0)
    f = {
        k: torch.nn.functional.normalize(torch.randn(b, d, generator=g), dim=-1)
        for k in ("image", "caption", "concept")
    }
    f["label"] = torch.arange(b)
    if twin:
        f.update(
            {
                f"neg_{k}": torch.nn.functional.normalize(torch.randn(b, d, generator=g), dim=-1)
                for k in ("image", "caption", "concept")
            }
        )
        f["neg_label"] = torch.arange(b) + b
    return f


def test_objective_returns_named_terms_and_their_weighted_sum():
    cfg = LossConfig(caption=0.7, concept=0.3, clip=0.5, preserve=0)
    f = _features()
    terms = objective_terms(f, torch.tensor(10.0), cfg)
    assert set(terms) == {"caption", "concept", "clip"}
    expected_caption = negclip_loss(
        f["image"], f["caption"], f["neg_caption"], torch.tensor(10.0), f["label"], f["neg_label"]
    ) + negclip_loss(f["neg_image"], f["neg_caption"], f["caption"], torch.tensor(10.0), f["neg_label"], f["label"])
    assert terms["caption"].item() == pytest.approx(expected_caption.item())
    total = weighted_sum(terms, cfg)
    assert total.item() == pytest.approx(
        0.7 * terms["caption"].item() + 0.3 * terms["concept"].item() + 0.5 * terms["clip"].item()
    )


def test_twin_terms_need_twin_batches():
    with pytest.raises(ValueError, match="needs twin batches"):
        objective_terms(_features(twin=False), torch.tensor(1.0), LossConfig(caption=1, concept=0, preserve=0))
    plain = objective_terms(
        _features(twin=False), torch.tensor(1.0), LossConfig(caption=0, concept=0, clip=1, preserve=0)
    )
    assert set(plain) == {"clip"}


def test_preserve_term_distils_images_and_generic_texts():
    f = _features(twin=False)
    f.update(image_all=f["image"], base_image=-f["image"], generic=f["caption"], base_generic=f["caption"])
    terms = objective_terms(f, torch.tensor(1.0), LossConfig(caption=0, concept=0, clip=0, preserve=5))
    assert set(terms) == {"preserve"}
    assert terms["preserve"].item() == pytest.approx(2.0, abs=1e-6)  # opposite images: 2, identical texts: 0


def _log_sigmoid(x):
    return -math.log(1 + math.exp(-x))


def test_siglip_loss_matches_hand_computation():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    # logits = 2 * I @ T.T - 1 = [[1, .2], [-1, .6]]; +1 targets on the diagonal, -1 off it
    expected = -(_log_sigmoid(1) + _log_sigmoid(-0.2) + _log_sigmoid(1) + _log_sigmoid(0.6)) / 2
    got = siglip_loss(images, texts, torch.tensor(2.0), torch.tensor(-1.0))
    assert got.item() == pytest.approx(expected, abs=1e-6)
    no_bias = -(_log_sigmoid(2) + _log_sigmoid(-1.2) + _log_sigmoid(0) + _log_sigmoid(1.6)) / 2
    assert siglip_loss(images, texts, torch.tensor(2.0)).item() == pytest.approx(no_bias, abs=1e-6)


def test_weight_distance_is_the_squared_l2_to_the_start():
    start = [torch.zeros(2, 2), torch.ones(3)]
    now = [torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([1.0, 1.0, 4.0])]
    assert weight_distance(now, start).item() == pytest.approx(1 + 4 + 9)


def test_without_twin_negatives_each_side_is_in_batch_infonce():
    f = {
        "image": torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
        "caption": torch.tensor([[1.0, 0.0], [0.6, 0.8]]),
        "neg_image": torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
        "neg_caption": torch.tensor([[0.8, 0.6], [0.0, 1.0]]),
        "label": torch.tensor([0, 1]),
        "neg_label": torch.tensor([2, 3]),
    }
    cfg = LossConfig(caption=1, concept=0, preserve=0, twin_negatives=False)
    got = objective_terms(f, torch.tensor(1.0), cfg)["caption"].item()
    # positive side: logits [[1, .6], [0, .8]]; twin side: I- @ C-.T = [[.6, 1], [.8, 0]]; no B x 2B rows
    pos = 0.5 * ((_ce([1, 0.6], 0) + _ce([0, 0.8], 1)) / 2 + (_ce([1, 0], 0) + _ce([0.6, 0.8], 1)) / 2)
    neg = 0.5 * ((_ce([0.6, 1], 0) + _ce([0.8, 0], 1)) / 2 + (_ce([0.6, 0.8], 0) + _ce([1, 0], 1)) / 2)
    assert got == pytest.approx(pos + neg, abs=1e-6)
    with_twins = objective_terms(f, torch.tensor(1.0), cfg.model_copy(update={"twin_negatives": True}))["caption"]
    # with them, image 0 of the positive side also sees the twins' captions: row [1, .6, .8, 0]
    image_side = (_ce([1, 0.6, 0.8, 0], 0) + _ce([0, 0.8, 0.6, 1], 1)) / 2
    text_side = (_ce([1, 0], 0) + _ce([0.6, 0.8], 1)) / 2
    assert with_twins.item() > got
    assert negclip_loss(f["image"], f["caption"], f["neg_caption"], torch.tensor(1.0)).item() == pytest.approx(
        0.5 * (image_side + text_side), abs=1e-6
    )


def test_twin_terms_with_a_random_sampler_fail_when_the_config_loads():
    from cultureclip.config import load_config
    from cultureclip.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load_config(None, ["finetune.sampler=random"])
    assert str(err.value) == (
        "config error in override 'finetune.sampler=random': finetune: loss.caption needs twin batches: "
        "set sampler to twins or twin_epochs, or loss.caption to 0"
    )
    assert load_config(None, ["finetune.sampler=random", "finetune.loss={caption: 0, concept: 0, clip: 1}"])


def test_an_ablation_that_breaks_a_rule_fails_when_the_config_loads():
    from cultureclip.config import load_config
    from cultureclip.errors import ConfigError

    with pytest.raises(ConfigError, match=r"defaults: ablations\.shuffled: loss\.caption needs twin batches") as err:
        load_config(None, ["ablations.shuffled={sampler: random}"])
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"ablations\.bad: steps: Input should be greater than or equal to 1"):
        load_config(None, ["ablations.bad={steps: 0}"])
    assert load_config(None, ["ablations.fewer={steps: 3}"]).training("fewer").steps == 3


def test_siglip_loss_leaves_out_other_texts_of_the_same_concept():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])  # a third column: an extra negative text
    # logits = I @ T.T = [[1, .6, 0], [0, .8, 1]]; pair (0, 2) names image 0's concept again: left out
    got = siglip_loss(images, texts, torch.tensor(1.0), None, torch.tensor([0, 1]), torch.tensor([0, 1, 0]))
    expected = -(_log_sigmoid(1) + _log_sigmoid(-0.6) + _log_sigmoid(0) + _log_sigmoid(0.8) + _log_sigmoid(-1)) / 2
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_the_terms_take_the_models_own_form_unless_told():
    """auto: sigmoid with the logit bias for a model that has one (SigLIP), softmax otherwise; true/false force it."""
    f, scale, bias = _features(), torch.tensor(10.0), torch.tensor(-3.0)
    both = torch.cat([f["label"], f["neg_label"]])
    sigmoid = siglip_loss(
        f["image"], torch.cat([f["caption"], f["neg_caption"]]), scale, bias, f["label"], both
    ) + siglip_loss(
        f["neg_image"], torch.cat([f["neg_caption"], f["caption"]]), scale, bias, f["neg_label"], both.roll(3)
    )
    softmax = negclip_loss(
        f["image"], f["caption"], f["neg_caption"], scale, f["label"], f["neg_label"]
    ) + negclip_loss(f["neg_image"], f["neg_caption"], f["caption"], scale, f["neg_label"], f["label"])
    cfg = LossConfig(caption=1, concept=0, clip=1, preserve=0)
    assert objective_terms(f, scale, cfg, bias)["caption"].item() == pytest.approx(sigmoid.item(), abs=1e-6)
    assert objective_terms(f, scale, cfg)["caption"].item() == pytest.approx(softmax.item(), abs=1e-6)
    forced = cfg.model_copy(update={"siglip": False})
    assert objective_terms(f, scale, forced, bias)["caption"].item() == pytest.approx(softmax.item(), abs=1e-6)
    plain = siglip_loss(f["image"], f["caption"], scale, None, f["label"], f["label"]) + siglip_loss(
        f["neg_image"], f["neg_caption"], scale, None, f["neg_label"], f["neg_label"]
    )
    forced = cfg.model_copy(update={"siglip": True})
    assert objective_terms(f, scale, forced)["clip"].item() == pytest.approx(plain.item(), abs=1e-6)


def test_loss_siglip_reads_auto_and_booleans_and_refuses_a_weight():
    assert LossConfig().siglip == "auto" and LossConfig(siglip=0.0).siglip is False  # an old weight of 0
    assert [LossConfig(siglip=v).sigmoid_for(b) for v in ("auto", True, False) for b in (True, False)] == [
        True,
        False,
        True,
        True,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="siglip"):
        LossConfig(siglip=0.2)
