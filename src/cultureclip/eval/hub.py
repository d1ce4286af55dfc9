"""Benchmarks fetched by name: the hub's copy of a release, downloaded once into the Hugging Face cache
(`huggingface_hub`'s, so `HF_HOME` and `HF_HUB_OFFLINE` apply) and read from there afterwards."""

from pathlib import Path

from cultureclip.errors import DataError

PATTERNS = ["*test-*.parquet", "*test/*.parquet"]
"""The release's test split only: `data/test-*.parquet`, or the hub's Parquet conversion `default/test/*.parquet`."""


def fetch_release(name: str, repo: str) -> Path:
    """The local folder of dataset repo `repo` (benchmark `name`): the cached copy, else downloaded into the cache.

    Offline without a cached copy, one line naming the dataset and how to pass a local copy instead."""
    from huggingface_hub import constants, snapshot_download

    try:
        return Path(snapshot_download(repo, repo_type="dataset", allow_patterns=PATTERNS))
    except OSError as err:  # offline, not cached, unreachable, not found: all OSErrors in huggingface_hub
        lines = str(err).strip().splitlines()
        why = "offline: HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else (lines[0] if lines else repr(err))
        raise DataError(
            f"benchmark {name}: dataset {repo} is not in the Hugging Face cache and cannot be downloaded ({why}); "
            f"download it where there is a network (huggingface-cli download {repo} --repo-type dataset "
            "--local-dir DIR) and pass --root DIR"
        ) from None
