import os
import sys

# A worker started by --workers (cli.run_workers) is pinned to its core here, before NumPy and tinygrad_bn load:
# tinygrad_bn sizes its thread pool from the cores this process may use.
if os.environ.get("BN_STUDY_CORE") and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(os.environ["BN_STUDY_CORE"])})

from .cli import main

sys.exit(main())
