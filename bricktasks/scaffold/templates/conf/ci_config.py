# Databricks notebook source
# MAGIC %md
# MAGIC # CI settings
# MAGIC Production settings with a sandbox for outputs (and, where it matters, a small input), so a CI run stays within minutes.

# COMMAND ----------

# MAGIC %run ./production_config

# COMMAND ----------

ENVIRONMENT = "ci"
STORAGE_ROOT = f"{VOLUMES}/main/@NAME@/ci_sandbox"
MLFLOW_EXPERIMENT = "@WORKSPACE_ROOT@/experiments/ci"
