"""adcompiler.schedule"""
