"""This project's tasks: the bricktasks collection, configured for this repository (written by `bricktasks init`).

    invoke --list            what there is
    invoke checkout BI-1     the working copy into @WORKSPACE_ROOT@/BI-1
    invoke ci                the CI job (local backend unless DATABRICKS_HOST is set)
    invoke deploy            master/ and the production jobs, from main
"""
from pathlib import Path

from bricktasks.tasks import namespace

ns = namespace
ns.configure({
    "bricktasks": {
        "project_dir": str(Path(__file__).resolve().parent),
        # the project's layout: .env and the environment override these (see .env.example)
        "settings": {
            "BRICKTASKS_SOURCE_DIR": "@SOURCE@",
            "BRICKTASKS_LIBS": "@LIBS@",
            "BRICKTASKS_WORKSPACE_ROOT": "@WORKSPACE_ROOT@",
        },
    },
})
