"""The CulTwin builder: catalogue -> twins -> captions -> images -> dataset shards."""
