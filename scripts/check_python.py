"""Fail early, in words, when the Python that creates the virtual environment is too old."""

import sys

if sys.version_info < (3, 11):
    sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}; "
             "run make with PYTHON=/path/to/python3.11")
