"""A run's tasks as a graph: which orders are valid (graph.py) and what each task's upstream
results mean for it and for the run (outcomes.py), as the Jobs API defines them.

One implementation for everyone who needs the rules: the CI definition's validation, the local
backend's scheduler and the emulator's runs/submit checks. Imports nothing but the standard library.
"""
