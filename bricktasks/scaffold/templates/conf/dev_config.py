# Databricks notebook source
# MAGIC %md
# MAGIC # Development settings
# MAGIC Production settings writing to a development sandbox. Copy it as `conf/<you>_config.py` for a config
# MAGIC of your own and point your branch at it: `invoke switch-env <you>`.

# COMMAND ----------

# MAGIC %run ./production_config

# COMMAND ----------

ENVIRONMENT = "dev"
STORAGE_ROOT = f"{VOLUMES}/main/@NAME@/dev_sandbox"
MLFLOW_EXPERIMENT = "@WORKSPACE_ROOT@/experiments/dev"
