"""adcompiler.ad"""
