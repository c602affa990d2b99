"""The preflight fixtures (TLS fake, CONNECT proxy) are importable by the unit tests."""

import os
import sys

FIXTURES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "preflight"
)
if FIXTURES not in sys.path:
    sys.path.insert(0, FIXTURES)
