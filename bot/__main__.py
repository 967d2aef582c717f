import os
import sys

from bot.terminal.cli import main

try:
    sys.exit(main())
except BrokenPipeError:
    # The reader went away (python -m bot topic ... | head): stop quietly, as other commands do.
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
