"""``python -m fc_core.pipeline ...``: see :mod:`fc_core.pipeline.cli`."""
import sys

from .cli import main

sys.exit(main())
