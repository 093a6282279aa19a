"""Everything printed: the Console (log vs terminal lines), live progress bars and the run status
line, and redaction of secrets in every form. Imports nothing of bricktasks but errors.
"""
