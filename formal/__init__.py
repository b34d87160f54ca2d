"""qbert-rtl formal kit: SymbiYosys jobs generated from the unit Configs."""
