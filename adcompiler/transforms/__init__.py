"""adcompiler.transforms"""
