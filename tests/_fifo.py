"""Calling what may wait forever on a FIFO, with a time limit."""

import os
import threading

import pytest


def within(seconds, function, fifo):
    """``function()``, run in a thread; fail (and release it) if it is still waiting."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer came and went
        thread.join(seconds)
        pytest.fail(f"still waiting after {seconds} s for a writer to the FIFO")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
