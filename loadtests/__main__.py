"""``python -m loadtests``: the comparison of the stores, ending with the report's path.

Locust's directory loader skips this file (its name starts with ``_``), so ``locust -f
loadtests`` and ``python -m loadtests`` live side by side.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from loadtests._campaign import run_campaign
from loadtests._campaign_settings import load_campaign_settings


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_campaign_settings(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_campaign(settings)
    except RuntimeError as error:  # a server that would not start, a Locust run that failed
        print(f"python -m loadtests: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
