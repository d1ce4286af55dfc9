"""Model backends behind small registries: CLIP models (clip/), chat models (chat/), image generators
(image/), the text embedder, the template caption writer and fixed-cost backends for benchmarks."""
