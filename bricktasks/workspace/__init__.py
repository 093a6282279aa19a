"""Workspace folders: sync (plan by content hash, apply in parallel), checkout, switch-env and
the push of folders that deploy uses. May import source/, libraries/, backends/, console/ and the
top-level value modules.
"""
