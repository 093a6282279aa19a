# Databricks notebook source
# MAGIC %md
# MAGIC # Model training
# MAGIC Trains one regime-aware forecaster per series (structural breaks found with `ruptures`, exponential
# MAGIC smoothing on the latest regime, from the `regimecast` library), in parallel with Spark's
# MAGIC `groupBy().applyInPandas()`. Writes forecasts and metrics, then checks quality against the
# MAGIC config's thresholds and fails the run below them.
# MAGIC
# MAGIC | setting | meaning |
# MAGIC |---|---|
# MAGIC | `INPUT_PATH` | input series (`series_id`, `t`, `y`) |
# MAGIC | `OUTPUT_PATH`, `METRICS_PATH` | where forecasts and metrics go |
# MAGIC | `HORIZON`, `HOLDOUT` | forecast steps; points held out to score the model |
# MAGIC | `MAX_MAE_RATIO`, `MIN_SERIES_FRACTION` | quality gates |

# COMMAND ----------

# MAGIC %run ./install_libraries

# COMMAND ----------

# MAGIC %run ./set_environment

# COMMAND ----------

import json
import time

import regimecast

print(f"environment {ENVIRONMENT}, regimecast {regimecast.__version__}")
started = time.time()

# COMMAND ----------

if REFRESH_INPUT:
    print(dbutils.notebook.run("./PrepareData", 1200, {}))

# COMMAND ----------

series = spark.read.format(TABLE_FORMAT).load(INPUT_PATH)
horizon, holdout = HORIZON, HOLDOUT


def train_one_series(frame):
    # runs on the executors: only the library and these two constants travel with it
    return regimecast.forecast_frame(frame, horizon=horizon, holdout=holdout)


forecasts = series.groupBy("series_id").applyInPandas(train_one_series, schema=regimecast.FORECAST_SCHEMA)
forecasts.write.format(TABLE_FORMAT).mode("overwrite").save(OUTPUT_PATH)
results = spark.read.format(TABLE_FORMAT).load(OUTPUT_PATH).toPandas()

# COMMAND ----------

n_input = series.select("series_id").distinct().count()
metrics = {
    "environment": ENVIRONMENT,
    "series_in": int(n_input),
    "series_forecast": int(len(results)),
    "mean_mae": float(results["mae"].mean()),
    "mean_baseline_mae": float(results["baseline_mae"].mean()),
    "mean_breaks": float(results["n_breaks"].mean()),
}
metrics["mae_ratio"] = metrics["mean_mae"] / metrics["mean_baseline_mae"]
spark.createDataFrame([metrics]).write.format(TABLE_FORMAT).mode("overwrite").save(METRICS_PATH)
display(spark.createDataFrame([metrics]))
display(results.sort_values("mae", ascending=False).head(10))

# COMMAND ----------

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

examples = results["series_id"].head(4).tolist()
history = series.filter(series.series_id.isin(examples)).toPandas()
figure, axes = plt.subplots(len(examples), 1, figsize=(9, 2.4 * len(examples)), sharex=True)
for axis, series_id in zip(axes, examples):
    observed = history[history["series_id"] == series_id].sort_values("t")
    row = results[results["series_id"] == series_id].iloc[0]
    forecast = json.loads(row["forecast"])
    start = int(observed["t"].max()) + 1
    axis.plot(observed["t"], observed["y"], label="observed")
    axis.plot(range(start, start + len(forecast)), forecast, label="forecast")
    if row["last_break"] >= 0:
        axis.axvline(observed["t"].iloc[int(row["last_break"])], color="grey", linestyle="--", label="last break")
    axis.set_title(f"{series_id}: MAE {row['mae']:.2f} (baseline {row['baseline_mae']:.2f})")
axes[0].legend(loc="upper left")
figure.tight_layout()
display(figure)

# COMMAND ----------

if metrics["series_forecast"] < MIN_SERIES_FRACTION * metrics["series_in"]:
    raise RuntimeError(f"only {metrics['series_forecast']} of {metrics['series_in']} series got a forecast")
if metrics["mae_ratio"] > MAX_MAE_RATIO:
    raise RuntimeError(f"forecast quality too low: MAE ratio {metrics['mae_ratio']:.3f} > {MAX_MAE_RATIO}")
print(f"quality ok: MAE ratio {metrics['mae_ratio']:.3f} <= {MAX_MAE_RATIO}")

# COMMAND ----------

metrics["seconds"] = round(time.time() - started, 1)
dbutils.notebook.exit(json.dumps(metrics))
