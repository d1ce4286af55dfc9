import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).parent / "fixtures"

# fixtures shared across folders: the fault cases' finished run (`world`) and a tiny CulTwin release (`release`)
pytest_plugins = ["helpers.faults", "helpers.cultwin_release"]


def pytest_addoption(parser):
    parser.addoption(
        "--device",
        default=os.environ.get("CULTURECLIP_DEVICE", "cpu"),
        help="device of every model the suite runs (cpu, cuda, cuda:N, mps): the `auto` settings of the library, "
        "its CLI and its Ray actors resolve to it (default cpu, or $CULTURECLIP_DEVICE); `--device cuda` runs "
        "the suite's models on the GPU",
    )


def pytest_configure(config):
    from cultureclip.runtime import DEVICE_ENV

    os.environ[DEVICE_ENV] = config.getoption("--device")  # subprocesses (the CLI tests) inherit it


@pytest.fixture
def device(request) -> str:
    """The device the suite runs its models on (`--device`)."""
    return request.config.getoption("--device")


@pytest.fixture
def mini_catalog() -> Path:
    return DATA / "mini_catalog.yaml"


MINI_CATALOG_STATS = {
    "concepts": 6,
    "cultures": 3,
    "categories": 3,
    "twin_groups": 3,
    "curated_twin_groups": 3,
    "native_names": 6,
    "name_languages": 3,  # zh, ja, ko
}
"""What `catalog stats` counts in the mini catalogue (fixtures/mini_catalog.yaml)."""


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs whose workers can import the test helpers (helpers.builder_backends)."""
    ray = pytest.importorskip("ray")
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True, scope="session")
def _embedding_cache(tmp_path_factory):
    """Keep the evaluator's embedding cache (default: $XDG_CACHE_HOME/cultureclip) out of the user's home."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


def synthetic_dataset(
    folder: Path, groups: int = 3, members: int = 2, images: int = 2, size: int = 32, seed: int = 0, prefix: str = ""
) -> Path:
    """A dataset of random images for `groups` twin groups of `members` concepts, `images` each, in `folder`."""
    import numpy as np
    from PIL import Image

    from cultureclip.data.shards import Sample, write_manifest, write_split

    rng = np.random.default_rng(seed)
    samples = [
        Sample(
            {
                "key": f"{prefix}k{g}-{m}-{i}",
                "split": "train",
                "concept_id": f"{prefix}c{g}-{m}",
                "twin_group": f"{prefix}g{g}",
                "name": f"concept {g} {m}",
                "generic": f"thing{g}",
                "caption": f"a thing{g} of kind {m}, picture {i}.",
                "generic_caption": f"a photo of a thing{g}.",
            },
            Image.fromarray(rng.integers(0, 256, (size, size, 3), np.uint8)),
        )
        for g in range(groups)
        for m in range(members)
        for i in range(images)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(folder, write_split(folder, "train", samples, shard_size=5))
    return folder


def synthetic_train_data(groups: int = 3, members: int = 2, images: int = 2, size: int = 32, seed: int = 0):
    """The TrainData of a `synthetic_dataset` written to a temporary folder (removed at exit)."""
    import atexit
    import shutil
    import tempfile

    from cultureclip.train.data import load_train_data

    folder = Path(tempfile.mkdtemp(prefix="cultureclip-train-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return load_train_data(synthetic_dataset(folder, groups, members, images, size, seed))
