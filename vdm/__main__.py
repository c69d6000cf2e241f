"""``python -m vdm``: the same as the ``vdm`` command."""

import sys

from vdm.cli import main

sys.exit(main())
