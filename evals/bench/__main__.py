"""`python -m evals.bench`: the benchmarks, or (`measure SPEC OUT`) one timed child process."""

import argparse
import json
import sys
from pathlib import Path

from . import __doc__, add_arguments, main
from .measure import measure_main

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "measure":
        measure_main(json.loads(sys.argv[2]), Path(sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge-dir")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
