"""Model backends behind small registries: CLIP models, caption writers, image renderers."""
