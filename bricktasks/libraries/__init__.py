"""The project's libraries: build (wheel/egg, version stamping), targets (which version and
folder for a branch, a CI build or master) and upload (streamed, idempotent). May import source/,
backends/, console/ and the top-level value modules.
"""
