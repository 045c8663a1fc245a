"""adcompiler.optim"""
