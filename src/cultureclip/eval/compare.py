"""The compare job (`cultureclip compare`): score models side by side with the runner and write a fresh
comparison folder: metrics.json, results.jsonl, predictions/, report.md, report.html and the config.

The folder appears whole or not at all (staged, then renamed), and it may replace only an empty folder or
an earlier comparison; a run folder, a dataset or anything else is refused before any model loads, so a
comparison never rewrites a report it did not write.
"""

from pathlib import Path

from cultureclip.config import CatalogConfig, DatasetSpec, EvalConfig
from cultureclip.eval.reports.compare import write_report
from cultureclip.eval.runner import Comparison, compare_models, write_results
from cultureclip.io import atomic_path, claim_output, mark_done, write_text

MAKER = "compare"
"""The command named in a comparison folder's completion marker."""
CONFIG = "config.yaml"


def compare_to_folder(
    models: dict[str, str],
    datasets: list[DatasetSpec],
    cfg: EvalConfig,
    out: Path,
    device: str = "auto",
    seed: int = 0,
    overwrite: bool = False,
    config: str | None = None,
    catalog: CatalogConfig | None = None,
) -> Comparison:
    """Compare `models` (name -> model id; the first is the reference) on `datasets` into the new folder `out`.

    `config` (the resolved config as YAML) is saved as OUT/config.yaml, so the comparison can be repeated;
    `overwrite` allows replacing a folder this job did not write; `catalog` is where a dataset's `names` come from.
    """
    out = Path(out)
    claim_output(out, MAKER, overwrite)
    comparison = compare_models(models, datasets, cfg, device, seed, catalog=catalog)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        write_results(comparison, tmp)
        write_report(comparison, tmp)
        if config is not None:
            write_text(tmp / CONFIG, config)
        mark_done(tmp, MAKER)
    return comparison
