"""Runs: supervise a submitted run (wait, timeout, signals, cancel, outputs) and `invoke run` of a
notebook on the local backend. May import backends/, console/ and the top-level value modules.
"""
