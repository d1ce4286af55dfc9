"""CLIP image similarity between concepts that have pictures: the mean image embedding per concept.

Images are found by concept id in a folder: `ID.png` or any image inside `ID/` (png, jpg, jpeg, webp).
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def concept_images(folder: Path, concept_id: str) -> list[Path]:
    """The image files of one concept in `folder`, sorted."""
    files = [folder / f"{concept_id}{suffix}" for suffix in IMAGE_SUFFIXES]
    inside = folder / concept_id
    if inside.is_dir():
        files += [p for p in inside.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(p for p in files if p.is_file())


def image_similarity(
    ids: Sequence[str], folder: Path, model_id: str, device: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """(has_images[i], cosine[i, j]) over concepts; rows without images are zero."""
    import torch
    from PIL import Image

    from cultureclip.backends.clip import create_clip

    model = create_clip(model_id, device)
    vectors = np.zeros((len(ids), 0), dtype=np.float32)
    has = np.zeros(len(ids), dtype=bool)
    for i, concept_id in enumerate(ids):
        files = concept_images(Path(folder), concept_id)
        if not files:
            continue
        with torch.no_grad():
            pixels = model.images_to_tensor([Image.open(f) for f in files]).to(model.device)
            mean = torch.nn.functional.normalize(model.encode_images(pixels).mean(0), dim=0).cpu().numpy()
        if vectors.shape[1] == 0:
            vectors = np.zeros((len(ids), mean.shape[0]), dtype=np.float32)
        vectors[i], has[i] = mean, True
    return has, vectors @ vectors.T
