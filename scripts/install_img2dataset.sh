#!/usr/bin/env bash
# img2dataset, for the test that downloads a WIT-layout URL list with it and builds from its output
# (tests/builder/test_bottom_up.py; it skips, saying why, without img2dataset), in a virtual environment
# of its own: img2dataset 1.47.0 pins pandas<3 and webdataset<0.3 and pulls wandb, opencv and
# albumentations, so it does not go beside cultureclip. Usage: scripts/install_img2dataset.sh DIR, then
#   export CULTURECLIP_IMG2DATASET=DIR/bin/img2dataset
# Extra arguments go to pip (e.g. --quiet).
set -euo pipefail
dir="${1:?usage: scripts/install_img2dataset.sh DIR [pip arguments]}"
shift
python3 -m venv "$dir"
"$dir/bin/python" -m pip install "img2dataset==1.47.0" "$@"
