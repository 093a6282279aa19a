# Databricks notebook source
# MAGIC %run ./set_environment

# COMMAND ----------

# the run's libraries (pandas, sentry-sdk) are what this notebook imports
import pandas as pd
import sentry_sdk

assert ENVIRONMENT == "ci", ENVIRONMENT
frame = pd.DataFrame({"week": range(DATA_ROWS), "sales": [2 * week + 1 for week in range(DATA_ROWS)]})
slope = (frame.sales.iloc[-1] - frame.sales.iloc[0]) / (frame.week.iloc[-1] - frame.week.iloc[0])
assert slope == 2, slope
print(f"trained on {len(frame)} rows in {ENVIRONMENT}, slope {slope}, sentry-sdk {sentry_sdk.VERSION}")
