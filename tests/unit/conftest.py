"""Make ``ansible_collections.apim.selfhosted`` importable: the test bed links it to this checkout."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_root():
    for path in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        if path and os.path.isdir(os.path.join(path, "ansible_collections", "apim", "selfhosted")):
            return path
    # Without the test bed: build the ansible_collections/apim/selfhosted link next to the checkout's cache.
    tree = os.path.join(ROOT, ".cache", "unit-collections")
    link = os.path.join(tree, "ansible_collections", "apim", "selfhosted")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    return tree


_root = _collections_root()
if _root not in sys.path:
    sys.path.insert(0, _root)
