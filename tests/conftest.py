import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).parent / "data"


@pytest.fixture
def mini_catalog() -> Path:
    return DATA / "mini_catalog.yaml"


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs whose workers can import the test helpers (builder_backends)."""
    ray = pytest.importorskip("ray")
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True, scope="session")
def _embedding_cache(tmp_path_factory):
    """Keep the evaluator's embedding cache (default: $XDG_CACHE_HOME/cultureclip) out of the user's home."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


def synthetic_train_data(groups: int = 3, members: int = 2, images: int = 2, size: int = 32, seed: int = 0):
    """TrainData of random pixels for `groups` twin groups, without building a dataset."""
    import torch

    from cultureclip.train.data import TrainData

    rows = [
        {
            "concept_id": f"c{g}-{m}",
            "twin_group": f"g{g}",
            "name": f"concept {g} {m}",
            "generic": f"thing{g}",
            "caption": f"a thing{g} of kind {m}, picture {i}.",
            "generic_caption": f"a photo of a thing{g}.",
        }
        for g in range(groups)
        for m in range(members)
        for i in range(images)
    ]
    by_concept: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_concept.setdefault(row["concept_id"], []).append(i)
    twin_groups = [[f"c{g}-{m}" for m in range(members)] for g in range(groups)]
    pixels = torch.randn(len(rows), 3, size, size, generator=torch.Generator().manual_seed(seed))
    return TrainData(pixels, rows, by_concept, twin_groups)
