"""`python -m pilots ...`: the same command line as the installed `pilots` command."""

import sys

from .cli import main

sys.exit(main(prog="python -m pilots"))
