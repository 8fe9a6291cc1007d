"""``python -m posekit.cli`` = ``posekit``."""

import sys

from posekit.cli import main

sys.exit(main())
