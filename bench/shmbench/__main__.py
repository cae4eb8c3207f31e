"""`python3 bench/shmbench` or, from bench/, `python3 -m shmbench`: see main.py and bench/README.md."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a directory: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from shmbench.main import main
else:
    from .main import main

sys.exit(main())
