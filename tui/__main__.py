"""`python -m llamatui.tui` runs the app."""

import sys

from llamatui.tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
