"""Entry point of ``wsp-app``.

The curator's desk (issue "The curator's desk") is not built yet: until then the command says so
and points to the headless ``wsp-core`` commands that already work.
"""

from __future__ import annotations

import sys


def main() -> int:
    print("wsp-app: the desktop application is not built yet; use 'wsp-core import', "
          "'wsp-core stats', 'wsp-core review' and 'wsp-core export' meanwhile.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
