# Databricks notebook source
# MAGIC %md
# MAGIC # Production settings
# MAGIC The base config: every constant the notebooks use, with production values. The other configs
# MAGIC `%run` this one and override only what differs. Constants only: logic lives in the library.

# COMMAND ----------

import os

# Databricks reads /Volumes paths directly; the local runtime keeps Volumes under its own root and says
# where in BRICKTASKS_VOLUMES_DIR, so the same config runs unchanged in both places.
VOLUMES = os.environ.get("BRICKTASKS_VOLUMES_DIR", "/Volumes")
ON_DATABRICKS = "DATABRICKS_RUNTIME_VERSION" in os.environ

ENVIRONMENT = "production"
STORAGE_ROOT = f"{VOLUMES}/main/@NAME@/production"
MLFLOW_EXPERIMENT = "@WORKSPACE_ROOT@/experiments/production"
