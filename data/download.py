#!/usr/bin/env python
"""Download Microsoft's cats-and-dogs images into data/dogs-vs-cats. Usage: python data/download.py --help

The logic lives in models/images/download.py; this file only makes it runnable from a checkout.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without `pip install -e .`

from models.images.download import main  # noqa: E402  (needs the path above)

if __name__ == "__main__":
    sys.exit(main(default_dest=Path(__file__).resolve().parent / "dogs-vs-cats"))
