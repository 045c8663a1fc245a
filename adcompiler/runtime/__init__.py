"""adcompiler.runtime"""
