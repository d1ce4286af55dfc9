"""Image-text retrieval over the items' captions: recall@1/5/10 image-to-text (any of the image's
captions in the top k) and text-to-image (the caption's image in the top k), as CLIP_benchmark does."""

import torch

from cultureclip.eval.tasks import TaskResult, mean, register

KS = (1, 5, 10)


@register("retrieval", prompts=lambda data: [c for it in data.items for c in it.captions])
def evaluate(data, image_features: torch.Tensor, encoder) -> TaskResult:
    rows = [i for i, it in enumerate(data.items) if it.captions]
    texts = [(i, j, c) for i in rows for j, c in enumerate(data.items[i].captions)]
    owner = torch.tensor([i for i, _, _ in texts])
    images = image_features[rows]
    sims = images @ encoder.texts([c for _, _, c in texts]).T
    k_max = max(KS)
    i2t = owner[sims.topk(min(k_max, len(texts)), dim=1).indices]
    t2i = torch.tensor(rows)[sims.T.topk(min(k_max, len(rows)), dim=1).indices]
    records = []
    for n, i in enumerate(rows):
        hits = i2t[n] == i
        records.append({"id": data.items[i].id, **{f"image_to_text_R@{k}": int(hits[:k].any()) for k in KS}})
    for n, (i, j, _) in enumerate(texts):
        hits = t2i[n] == i
        records.append({"id": f"{data.items[i].id}#{j}", **{f"text_to_image_R@{k}": int(hits[:k].any()) for k in KS}})
    paired = tuple(f"{d}_R@{k}" for d in ("image_to_text", "text_to_image") for k in KS)
    metrics = {m: mean(r[m] for r in records if m in r) for m in paired}
    metrics |= {"n_images": len(rows), "n_texts": len(texts)}
    return TaskResult(metrics, records, paired)
