# Databricks notebook source
# MAGIC %md
# MAGIC # CI settings
# MAGIC Production settings with a sandbox for outputs and a small input, so a CI run stays within minutes.

# COMMAND ----------

# MAGIC %run ./production_config

# COMMAND ----------

ENVIRONMENT = "ci"
STORAGE_ROOT = f"{VOLUMES}/ml/forecasting/ci_sandbox"
INPUT_PATH = f"{STORAGE_ROOT}/input/series"
OUTPUT_PATH = f"{STORAGE_ROOT}/output/forecasts"
METRICS_PATH = f"{STORAGE_ROOT}/output/metrics"
REFRESH_INPUT = True
N_SERIES = 200
SERIES_LENGTH = 120
MLFLOW_EXPERIMENT = "/Projects/forecasting/experiments/ci"
