"""`python -m bricktasks`: the bricktasks command (bricktasks.main)."""
import sys

from bricktasks.main import main

sys.exit(main())
