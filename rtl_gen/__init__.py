"""qbert-rtl RTL generators (Veriloggen): one frozen Config per unit drives
the generator, the testbench and the proofs.  Reads golden_model for widths
and constants; imports nothing from verif, formal or scripts."""
