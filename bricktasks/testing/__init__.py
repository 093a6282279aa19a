"""Support for the tests and benchmarks: an emulator in a subprocess, a project copy driven with
invoke. Never imported at run time.
"""
