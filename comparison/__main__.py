"""``python -m comparison`` (and ``python -m loadtests``): the comparison of the stores."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from comparison.campaign import run_campaign
from comparison.settings import load_settings


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_settings(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_campaign(settings)
    except RuntimeError as error:  # a server that would not start, a Locust run that failed
        print(f"python -m loadtests: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
