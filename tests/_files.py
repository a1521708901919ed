"""What a directory holds, for tests that a writer loses nothing."""

import os


def tree(directory):
    """Every path under ``directory`` with the bytes of each file (None for a directory)."""
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), directory)] = None
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                found[os.path.relpath(path, directory)] = file.read()
    return found
