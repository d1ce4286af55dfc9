"""The frozen starting model's embeddings of the training rows, for the feature-distillation term.

The base never trains and a row's image and generic caption are fixed, so its base embeddings are a pure
function of the row: they are computed once, in fixed chunks of rows, and kept. Fixed chunks (not the
batch that first needs a row) make the values independent of the step order, so a resumed run stays
bit-exact and every rank of a distributed run sees the same values.
"""

import numpy as np
import torch
from torch import Tensor

from cultureclip.backends.clip import ClipModel
from cultureclip.train.data import TrainData


class BaseFeatures:
    """Base image and generic-caption embeddings by row index, each chunk of `chunk` rows embedded once."""

    def __init__(self, base: ClipModel, data: TrainData, normalize: bool, device: torch.device, chunk: int):
        self.base, self.data, self.normalize, self.device, self.chunk = base, data, normalize, device, chunk
        self.images: Tensor | None = None
        self.texts: Tensor | None = None
        self.done = np.zeros(-(-len(data.rows) // chunk), dtype=bool)

    def __call__(self, index: np.ndarray) -> tuple[Tensor, Tensor]:
        """(image, generic caption) embeddings of the rows `index`."""
        for c in np.unique(index // self.chunk):
            if not self.done[c]:
                self._embed(int(c))
        rows = torch.as_tensor(index, device=self.device)
        return self.images[rows], self.texts[rows]

    @torch.no_grad()
    def _embed(self, c: int) -> None:
        rows = slice(c * self.chunk, (c + 1) * self.chunk)
        tokens = self.base.tokenize([r["generic_caption"] for r in self.data.rows[rows]]).to(self.device)
        images = self.base.encode_images(self.data.pixels[rows].to(self.device), self.normalize)
        texts = self.base.encode_texts(tokens, self.normalize)
        if self.images is None:
            n = len(self.data.rows)
            self.images = images.new_empty(n, images.shape[1])
            self.texts = texts.new_empty(n, texts.shape[1])
        self.images[rows], self.texts[rows] = images, texts
        self.done[c] = True
