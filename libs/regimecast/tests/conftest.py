"""Makes the tests import this checkout's regimecast, whether or not some regimecast is installed.

The tests live beside the source they check, so the source folder goes first on sys.path:
an installed (possibly older) regimecast must not be what passes or fails here. Works for
`python -m pytest libs/regimecast` from the repository root and `python -m pytest` from here.
"""
from __future__ import annotations

import sys
from pathlib import Path

LIBRARY_ROOT = Path(__file__).resolve().parent.parent

if str(LIBRARY_ROOT) not in sys.path:
    sys.path.insert(0, str(LIBRARY_ROOT))
