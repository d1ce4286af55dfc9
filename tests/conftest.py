import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).parent / "data"


@pytest.fixture
def mini_catalog() -> Path:
    return DATA / "mini_catalog.yaml"


@pytest.fixture(autouse=True, scope="session")
def _embedding_cache(tmp_path_factory):
    """Keep the evaluator's embedding cache (default: $XDG_CACHE_HOME/cultureclip) out of the user's home."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
