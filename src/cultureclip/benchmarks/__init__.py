"""The paper's three benchmarks with its exact protocols: GlobalRG-Retrieval, GlobalRG-Grounding, CROPE.

Each reads the benchmark's released Parquet files from a local folder, in the benchmark's own columns,
and is registered by name in `BENCHMARKS`; `evaluate(name, root, model)` runs one.
"""

from cultureclip.benchmarks import crope, globalrg_grounding, globalrg_retrieval  # noqa: F401  (registers)
from cultureclip.benchmarks.base import BENCHMARKS, evaluate

__all__ = ["BENCHMARKS", "evaluate"]
