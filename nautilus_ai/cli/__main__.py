import sys

from nautilus_ai.cli import main

sys.exit(main())
