# Databricks notebook source
# MAGIC %md
# MAGIC # Kyle's settings
# MAGIC An example per-developer config: production settings with Kyle's own sandbox.
# MAGIC Copy it as `conf/<you>_config.py` and point your branch at it: `invoke switch-env <you>`.

# COMMAND ----------

# MAGIC %run ./production_config

# COMMAND ----------

ENVIRONMENT = "kyle"
STORAGE_ROOT = f"{VOLUMES}/ml/forecasting/sandbox_kyle"
INPUT_PATH = f"{STORAGE_ROOT}/input/series"
OUTPUT_PATH = f"{STORAGE_ROOT}/output/forecasts"
METRICS_PATH = f"{STORAGE_ROOT}/output/metrics"
REFRESH_INPUT = True
N_SERIES = 100
MLFLOW_EXPERIMENT = "/Projects/forecasting/experiments/kyle"
