"""The light commands start without torch: `--help` and the catalogue's check and stats."""

import json
import os
import subprocess
import sys

import pytest

CODE = """
import contextlib, io, sys
from cultureclip.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main({argv!r})
print(repr((code, "torch" in sys.modules, out.getvalue())))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["compare", "--help"],
        ["eval", "--help"],
        ["wise", "--help"],
        ["export", "clip-benchmark", "--help"],
        ["catalog", "stats", "--json"],
        ["catalog", "check"],
        ["catalog", "--help"],
    ],
)
def test_runs_without_importing_torch(argv):
    done = subprocess.run([sys.executable, "-c", CODE.format(argv=argv)], capture_output=True, text=True, check=True)
    code, imported_torch, stdout = eval(done.stdout.strip().splitlines()[-1])
    assert code == 0 and not imported_torch
    if argv[1:] == ["stats", "--json"]:
        assert json.loads(stdout)["concepts"] == 562


@pytest.mark.parametrize("rank", ["0", "1"])
def test_under_torchrun_only_rank_0_prints_but_every_rank_its_errors(rank, tmp_path):
    env = {**os.environ, "RANK": rank}
    ok = subprocess.run(
        [sys.executable, "-m", "cultureclip", "catalog", "check"], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0 and (": ok" in ok.stderr) == (rank == "0")
    missing = tmp_path / "nothing.yaml"
    bad = subprocess.run(
        [sys.executable, "-m", "cultureclip", "catalog", "check", str(missing)], capture_output=True, text=True, env=env
    )
    where = "" if rank == "0" else "rank 1: "
    assert bad.returncode != 0 and bad.stderr.startswith(f"error: {where}"), bad.stderr
