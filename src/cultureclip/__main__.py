"""`python -m cultureclip` (and `torchrun ... -m cultureclip train`): the command line."""

from cultureclip.cli import entry

entry()
