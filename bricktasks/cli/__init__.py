"""The task layer's frame: the @bricktask guard (exit codes, refusals as one line, signals) and one
invocation's output (--quiet, --json summary). May import console/ and the modules below it; never a room above.
"""
