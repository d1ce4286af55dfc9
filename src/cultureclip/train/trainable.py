"""What trains: every weight, the last N blocks of each tower, or LoRA adapters (peft); and the temperature.

Works on any CLIP adapter through its parameter layout (`tower_of`, `HEADS`, `SCALE_PARAMS`). A tower's
blocks are found, not named: its largest list of same-kind modules (open_clip `resblocks`, transformers
`encoder.layers`, a BERT's `encoder.layer`, a timm trunk's `blocks`).
"""

import logging

from torch import nn

from cultureclip.backends.clip import ClipModel
from cultureclip.config import TuneConfig
from cultureclip.errors import ConfigError

log = logging.getLogger(__name__)
LORA_ALIASES = {
    "q": ("q_proj", "query"),
    "k": ("k_proj", "key"),
    "v": ("v_proj", "value"),
    "out": ("out_proj",),
    "fc1": ("fc1", "c_fc"),
    "fc2": ("fc2", "c_proj"),
}
LORA_TYPES = (nn.Linear, nn.MultiheadAttention, nn.Conv2d, nn.Embedding)


def select_trainable(model: ClipModel, cfg: TuneConfig, train_logit_scale: bool) -> dict[str, int]:
    """Set requires_grad on `model` (adding LoRA adapters in lora mode); return the parameter counts."""
    if cfg.mode == "lora":
        add_lora(model, cfg)
    last = _last_block_prefixes(model, cfg) if cfg.mode == "last_blocks" else ()
    for name, param in model.model.named_parameters():
        tower = model.tower_of(name)
        if tower is None:
            param.requires_grad_(train_logit_scale)
        elif tower not in cfg.towers:
            param.requires_grad_(False)
        elif cfg.mode == "full":
            param.requires_grad_(True)
        elif cfg.mode == "last_blocks":
            param.requires_grad_(name.startswith(last) or (cfg.heads and _is_head(model, name)))
        else:
            param.requires_grad_("lora_" in name or (cfg.heads and _is_head(model, name)))
    counts = parameter_counts(model)
    log.info("trainable parameters: %s", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return counts


def parameter_counts(model: ClipModel) -> dict[str, int]:
    """Trainable parameters per tower and in all, beside the model's total."""
    counts = {"trainable": 0, "image": 0, "text": 0, "logit": 0, "total": 0}
    for name, param in model.model.named_parameters():
        counts["total"] += param.numel()
        if param.requires_grad:
            counts["trainable"] += param.numel()
            counts[model.tower_of(name) or "logit"] += param.numel()
    return counts


def tower_blocks(model: ClipModel, tower: str) -> str:
    """Dotted name of the tower's block list: its largest ModuleList/Sequential of same-kind modules."""
    best, best_size = None, 0
    for name, module in model.model.named_modules():
        if not name or model.tower_of(name) != tower or not isinstance(module, nn.ModuleList | nn.Sequential):
            continue
        kinds = {type(child) for child in module}
        size = sum(p.numel() for p in module.parameters())
        if len(module) >= 2 and len(kinds) == 1 and size > best_size:
            best, best_size = name, size
    if best is None:
        raise ConfigError(f"{model.name}: no block list found in the {tower} tower; use tune.mode=full or lora")
    return best


def _last_block_prefixes(model: ClipModel, cfg: TuneConfig) -> tuple[str, ...]:
    """'tower.blocks.i.' for the last `cfg.blocks` blocks of each tuned tower."""
    prefixes = []
    for tower in cfg.towers if cfg.blocks else ():
        blocks = tower_blocks(model, tower)
        count = len(model.model.get_submodule(blocks))
        prefixes += [f"{blocks}.{i}." for i in range(max(0, count - cfg.blocks), count)]
    return tuple(prefixes)


def _is_head(model: ClipModel, name: str) -> bool:
    return any(name == h or name.startswith(h + ".") for h in model.HEADS[model.tower_of(name)])


def lora_modules(model: ClipModel, cfg: TuneConfig) -> list[str]:
    """Full names of the modules of the tuned towers that `cfg.lora_targets` select; each target must match."""
    candidates = {
        name: module
        for name, module in model.model.named_modules()
        if name and model.tower_of(name) in cfg.towers and isinstance(module, LORA_TYPES)
    }
    # nn.MultiheadAttention never calls its out_proj's forward, so an adapter there would do nothing
    inside_mha = {f"{n}.out_proj" for n, m in candidates.items() if isinstance(m, nn.MultiheadAttention)}
    chosen: list[str] = []
    for target in cfg.lora_targets:
        endings = LORA_ALIASES.get(target, (target,))
        hits = [n for n in candidates if n not in inside_mha and any(n == e or n.endswith("." + e) for e in endings)]
        if not hits:
            leaves = sorted({n.rsplit(".", 1)[-1] for n in candidates if n not in inside_mha})
            raise ConfigError(
                f"tune.lora_targets: {target!r} matches no module in the {'/'.join(cfg.towers)} tower(s) of "
                f"{model.name}; module names there end in: {', '.join(leaves)}"
            )
        chosen += [n for n in hits if n not in chosen]
    return chosen


def add_lora(model: ClipModel, cfg: TuneConfig) -> None:
    """Inject LoRA adapters in place (peft); `model.model` stays the same module, its weights frozen."""
    import peft

    lora = peft.LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, target_modules=lora_modules(model, cfg)
    )
    model.lora = peft.get_peft_model(model.model, lora)


def merge_lora(model: ClipModel) -> None:
    """Fold the adapters into the weights (W + BA·alpha/r) so the model saves in its own plain format."""
    if model.lora is not None:
        model.model = model.lora.merge_and_unload()
        model.lora = None
