"""qbert-rtl simulation kit: cocotb + Hypothesis testbenches under Verilator
that compare generated RTL to the golden model bit for bit."""
