"""This project's tasks: the bricktasks collection, configured for this folder.

    invoke --list            what there is
    invoke ci                the CI job (local backend unless DATABRICKS_HOST is set)
"""
from pathlib import Path

from bricktasks.tasks import namespace

ns = namespace
ns.configure({"bricktasks": {"project_dir": str(Path(__file__).resolve().parent)}})
