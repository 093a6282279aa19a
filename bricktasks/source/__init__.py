"""What may leave this machine: the selection of files to send (git's view, .gitignore, symbolic
links refused) and the credential scan over exactly those files and built artifacts.
Imports only errors and the standard library.
"""
