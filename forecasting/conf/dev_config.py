# Databricks notebook source
# MAGIC %md
# MAGIC # Shared development settings
# MAGIC Production settings writing to a development sandbox, on a medium-sized input.

# COMMAND ----------

# MAGIC %run ./production_config

# COMMAND ----------

ENVIRONMENT = "dev"
STORAGE_ROOT = f"{VOLUMES}/ml/forecasting/dev_sandbox"
INPUT_PATH = f"{STORAGE_ROOT}/input/series"
OUTPUT_PATH = f"{STORAGE_ROOT}/output/forecasts"
METRICS_PATH = f"{STORAGE_ROOT}/output/metrics"
REFRESH_INPUT = True
N_SERIES = 500
MLFLOW_EXPERIMENT = "/Projects/forecasting/experiments/dev"
