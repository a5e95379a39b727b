"""``python -m dmi_gnn`` is the ``dmi-gnn`` command."""

import sys

from dmi_gnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
