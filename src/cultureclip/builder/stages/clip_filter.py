"""The filter stage: a judge CLIP scores each image, then a global pass keeps, rejects or de-duplicates.

Per row (`ClipFilterStage`, parallel): `clip_score`, the cosine of the image and its caption, and
`twin_margin`, the cosine to its own concept text minus the highest cosine to a twin's. Then
`select` (one pass, in plan order): a row is rejected when its score is below `min_score`, its margin
not above `twin_margin`, or it is a near-duplicate of an earlier kept image of the same concept and split.
"""

import io
import logging

import torch
from PIL import Image

from cultureclip.builder.stage import Stage
from cultureclip.config import ClipFilterConfig

log = logging.getLogger(__name__)


class JudgeClipStage(Stage):
    """A stage that embeds rows' images and texts with a judge CLIP (`clip`, a model id), loaded in `setup` on the
    best device present, once per worker for every stage that names it."""

    def __init__(self, clip: str):
        self.clip = clip

    def setup(self) -> None:
        from cultureclip.backends.clip import create_clip
        from cultureclip.backends.loaded import shared
        from cultureclip.runtime import resolve_device

        def load():
            log.info("loading judge CLIP %s on %s", self.clip, device)
            return create_clip(self.clip, device)

        device = resolve_device()
        self.judge = shared(("clip", self.clip, device), load)
        self.judge.model.eval()

    @torch.inference_mode()
    def embed(self, pngs: list[bytes], texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """The judge's embeddings of the images (PNG bytes; an unreadable one fails the row) and the texts."""
        images = [Image.open(io.BytesIO(png)).convert("RGB") for png in pngs]
        device = self.judge.device
        image_emb = self.judge.encode_images(self.judge.images_to_tensor(images).to(device)).float().cpu()
        text_emb = self.judge.encode_texts(self.judge.tokenize(texts).to(device)).float().cpu()
        return image_emb, text_emb


class ClipFilterStage(JudgeClipStage):
    """Scores rows with `png`, `caption`, `concept_text` and `twin_texts` with the judge CLIP."""

    name = "judge"
    inputs = ("png", "caption", "concept_text", "twin_texts")
    outputs = ("clip_score", "twin_margin", "embedding")

    def __init__(self, cfg: ClipFilterConfig):
        super().__init__(cfg.clip)
        self.cfg = cfg

    def process(self, rows: list[dict]) -> list[dict]:
        texts = [t for r in rows for t in (r["caption"], r["concept_text"], *r["twin_texts"])]
        image_emb, text_emb = self.embed([r["png"] for r in rows], texts)
        outputs, start = [], 0
        for row, image in zip(rows, image_emb, strict=True):
            n = 2 + len(row["twin_texts"])
            sims = text_emb[start : start + n] @ image
            start += n
            margin = float(sims[1] - sims[2:].max()) if n > 2 else None
            outputs.append({"clip_score": float(sims[0]), "twin_margin": margin, "embedding": image.tolist()})
        return outputs


def select(rows: list[dict], cfg: ClipFilterConfig) -> None:
    """Set each scored row's `status` to kept or rejected (with `reason`), in plan order, in place."""
    kept: dict[tuple[str, str], list[tuple[str, torch.Tensor]]] = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        embedding = torch.tensor(row["embedding"])
        earlier = kept.setdefault((row["concept_id"], row["split"]), [])
        similar = max(((float(e @ embedding), k) for k, e in earlier), default=(-1.0, None))
        if row["clip_score"] < cfg.min_score:
            row.update(status="rejected", reason=f"low clip score: {row['clip_score']:.3f} < {cfg.min_score}")
        elif row["twin_margin"] is not None and row["twin_margin"] <= cfg.twin_margin:
            row.update(status="rejected", reason=f"twin margin: {row['twin_margin']:.3f} <= {cfg.twin_margin}")
        elif similar[0] > cfg.dedup_threshold:
            row.update(status="rejected", reason=f"near duplicate: of {similar[1]} ({similar[0]:.3f})")
        else:
            earlier.append((row["key"], embedding))
