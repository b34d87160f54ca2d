"""qbert-rtl golden model: the bit-exact integer spec of every unit.

Imports nothing from rtl_gen, verif, formal or scripts: the spec knows no
implementation.
"""
