# Databricks notebook source
# MAGIC %md
# MAGIC # Production settings
# MAGIC The base config: every constant the notebooks use, with production values. Other configs
# MAGIC `%run` this one and override only what differs. Constants only: logic lives in `regimecast`.

# COMMAND ----------

import os

# Databricks reads /Volumes paths directly. The local runtime keeps Volumes under its own root
# and says where in BRICKTASKS_VOLUMES_DIR, so the same config runs unchanged in both places.
VOLUMES = os.environ.get("BRICKTASKS_VOLUMES_DIR", "/Volumes")
ON_DATABRICKS = "DATABRICKS_RUNTIME_VERSION" in os.environ
# Delta on Databricks; the local runtime has no Delta jars offline, so parquet there.
TABLE_FORMAT = "delta" if ON_DATABRICKS else "parquet"

ENVIRONMENT = "production"
STORAGE_ROOT = f"{VOLUMES}/ml/forecasting/production"
INPUT_PATH = f"{STORAGE_ROOT}/input/series"
OUTPUT_PATH = f"{STORAGE_ROOT}/output/forecasts"
METRICS_PATH = f"{STORAGE_ROOT}/output/metrics"

# Input data: the data step generates a panel of series with known structural breaks.
REFRESH_INPUT = False
N_SERIES = 2000
SERIES_LENGTH = 240
SEED = 20240601

# Model
HORIZON = 12
HOLDOUT = 12

# Quality gates: Evaluate (the CI job's last task) fails (raises) below these.
MAX_MAE_RATIO = 0.7  # mean forecast MAE / mean whole-history-mean MAE on the holdout
MIN_SERIES_FRACTION = 0.99  # share of input series that must get a forecast

# MLflow experiment of the training runs: a workspace path on Databricks (a plain name in the local
# backend's file store). Every other config names its own, so CI and developers' runs stay out of this one.
MLFLOW_EXPERIMENT = "/Projects/forecasting/experiments/production"
