"""``python -m meshgrade``."""

import contextlib
import sys

from . import interrupt

# `grade`: a signal during the imports is recorded, and reported once the run can say so
with interrupt.handling() if sys.argv[1:2] == ["grade"] else contextlib.nullcontext():
    from .cli import main

    status = main()
sys.exit(status)
