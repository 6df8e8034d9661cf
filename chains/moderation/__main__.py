"""``python -m chains.moderation scan [FILE] [--policy NAME] [--config PATH]``."""

import sys

from chains.moderation.cli import main

sys.exit(main())
