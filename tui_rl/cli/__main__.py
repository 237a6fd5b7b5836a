"""``python -m tui_rl.cli``: the same as the ``tui-rl`` command."""

import sys

from tui_rl.cli import main

sys.exit(main())
