"""The frontend: Python source -> IR."""
def trace(*a, **k): raise NotImplementedError
