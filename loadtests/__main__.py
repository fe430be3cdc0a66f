"""``python -m loadtests``: the comparison of the stores (``comparison``), ending with the
report's path.

Locust's directory loader skips this file (its name starts with ``_``), so ``locust -f
loadtests`` and ``python -m loadtests`` live side by side; the comparison itself lives in its
own package, which never imports Locust.
"""

from __future__ import annotations

import sys

from comparison.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
