"""A stand-in for a child process that compiles aside (precompile.start_aside), for the tests
of loops and of first calls."""
import os
import time


class Child:
    """`poll()` gives `status` (None: running); `kill()` and `wait()` as a Popen's."""

    def __init__(self, status=None):
        self.status = status
        self.started, self.owner = time.monotonic(), os.getpid()

    def poll(self):
        return self.status

    def kill(self):
        self.status = -9

    def wait(self, timeout=None):
        return self.status
