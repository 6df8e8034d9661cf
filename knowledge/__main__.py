"""Entry point of ``python -m knowledge``; see :mod:`knowledge.cli`."""

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from knowledge.cli import main  # noqa: E402

sys.exit(main())
