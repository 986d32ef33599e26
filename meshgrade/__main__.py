"""``python -m meshgrade``."""

import contextlib
import sys

from .grading import interrupt

# `grade`: a signal during the imports is recorded, and reported once the run can say so
with interrupt.handling() if sys.argv[1:2] == ["grade"] else contextlib.nullcontext():
    from .cli.main import main

    status = main()
sys.exit(status)
