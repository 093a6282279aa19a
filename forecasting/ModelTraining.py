# Databricks notebook source
# MAGIC %md
# MAGIC # Model training
# MAGIC Trains one regime-aware forecaster per series (structural breaks found with `ruptures`, exponential
# MAGIC smoothing on the latest regime, from the `regimecast` library), in parallel with Spark's
# MAGIC `groupBy().applyInPandas()`. Writes forecasts and metrics and logs the run to MLflow (parameters,
# MAGIC metrics, a figure and the model). `Evaluate` checks the quality gates downstream.
# MAGIC
# MAGIC In the CI job (`jobs/ci.json`) it reads what `PrepareData` prepared through task values
# MAGIC (`input_path`, `series`) and passes on `mlflow_run_id`, `mae_ratio`, `series_in` and
# MAGIC `series_forecast` to `Evaluate`. Run on its own (`invoke run ModelTraining`, or ci's shorthand
# MAGIC without a job definition) there is no `PrepareData` upstream: it then prepares the input itself
# MAGIC when the config says `REFRESH_INPUT`, as before the job had a data step.
# MAGIC
# MAGIC | setting | meaning |
# MAGIC |---|---|
# MAGIC | `INPUT_PATH` | input series (`series_id`, `t`, `y`) |
# MAGIC | `OUTPUT_PATH`, `METRICS_PATH` | where forecasts and metrics go |
# MAGIC | `HORIZON`, `HOLDOUT` | forecast steps; points held out to score the model |
# MAGIC | `MLFLOW_EXPERIMENT` | the MLflow experiment of the run, a workspace path: each config has its own, so CI and developers' runs stay apart from production's |
# MAGIC
# MAGIC Widgets (both optional, for CI jobs): `build` and `branch` tag the MLflow run.
# MAGIC
# MAGIC MLflow goes wherever the cluster's tracking points: the workspace on Databricks; the local root's
# MAGIC `mlflow/` file store on the bricktasks local backend, which sets `MLFLOW_TRACKING_URI` for its runs.

# COMMAND ----------

# MAGIC %run ./install_libraries

# COMMAND ----------

# MAGIC %run ./set_environment

# COMMAND ----------

import json
import time

import regimecast

dbutils.widgets.text("build", "", "CI build (tags the MLflow run)")
dbutils.widgets.text("branch", "", "Git branch (tags the MLflow run)")
print(f"environment {ENVIRONMENT}, regimecast {regimecast.__version__}")
started = time.time()

# COMMAND ----------

def from_prepare_data(key):
    """A value the PrepareData task set in this job run; None when no PrepareData ran upstream
    (get raises ValueError for a task that is not upstream in this run; outside any job run it
    returns debugValue)."""
    try:
        return dbutils.jobs.taskValues.get(taskKey="PrepareData", key=key, debugValue="") or None
    except ValueError:
        return None


prepared_path = from_prepare_data("input_path")
prepared_here = prepared_path is None and REFRESH_INPUT
if prepared_here:
    print(dbutils.notebook.run("./PrepareData", 1200, {}))
input_path = prepared_path or INPUT_PATH
print(f"input {input_path}" + (f" ({from_prepare_data('series')} series from PrepareData)" if prepared_path else ""))

# COMMAND ----------

series = spark.read.format(TABLE_FORMAT).load(input_path)
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

# MAGIC %md
# MAGIC ## The model, as MLflow serves it
# MAGIC A regime forecaster keeps no fitted weights across series: it finds each series' breaks and
# MAGIC smooths its latest regime when asked. The logged model is that method with this run's settings:
# MAGIC a frame of history (`series_id`, `t`, `y`) in, one row per series out with its `HORIZON`
# MAGIC forecasts after the last point, fitted on all the history given (no holdout). It carries
# MAGIC `regimecast`'s code (`code_paths`), so it loads where the library is not installed.

# COMMAND ----------

import os
from importlib.metadata import version

import mlflow
import mlflow.pyfunc
import pandas as pd


class RegimeForecastModel(mlflow.pyfunc.PythonModel):
    def __init__(self, horizon):
        self.horizon = horizon

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        forecasts = regimecast.forecast_frame(model_input, horizon=self.horizon, holdout=0)
        return forecasts.drop(columns=["mae", "baseline_mae"])  # no holdout: nothing to score


# regimecast's own dependencies (libs/regimecast/pyproject.toml), pinned to the versions it trained with
MODEL_REQUIREMENTS = [f"{name}=={version(name)}" for name in ("numpy", "pandas", "ruptures", "statsmodels")]

# COMMAND ----------

# MAGIC %md
# MAGIC ## MLflow run
# MAGIC Parameters are the model's settings (and the generated input's, when this run made it); metrics
# MAGIC are the summary above; tags say where the run came from. `Evaluate` adds the `quality_gate` tag.

# COMMAND ----------

if ON_DATABRICKS:
    # on Databricks an experiment is a workspace object, and its folder must exist before it
    from databricks.sdk import WorkspaceClient

    WorkspaceClient().workspace.mkdirs(MLFLOW_EXPERIMENT.rsplit("/", 1)[0])
mlflow.set_experiment(MLFLOW_EXPERIMENT)

forecaster = regimecast.RegimeForecaster()  # the settings forecast_frame fits every series with
params = {
    "horizon": HORIZON,
    "holdout": HOLDOUT,
    "min_size": forecaster.min_size,
    "penalty": "default" if forecaster.penalty is None else forecaster.penalty,
    "regimecast_version": regimecast.__version__,
    "table_format": TABLE_FORMAT,
}
if prepared_here:
    params.update(n_series=N_SERIES, series_length=SERIES_LENGTH, seed=SEED)
notebook_path = dbutils.notebook.entry_point.getDbutils().notebook().getContext().notebookPath().get()
tags = {"environment": ENVIRONMENT, "notebook": notebook_path, "input_path": input_path}
tags.update({name: dbutils.widgets.get(name) for name in ("build", "branch") if dbutils.widgets.get(name)})

with mlflow.start_run(run_name=f"ModelTraining ({ENVIRONMENT})") as mlflow_run:
    mlflow.set_tags(tags)
    mlflow.log_params(params)
    mlflow.log_metrics({name: value for name, value in metrics.items() if name != "environment"})
    mlflow.log_figure(figure, "forecast_examples.png")
    model_info = mlflow.pyfunc.log_model(
        name="model",
        python_model=RegimeForecastModel(HORIZON),
        code_paths=[os.path.dirname(regimecast.__file__)],
        pip_requirements=MODEL_REQUIREMENTS,
        input_example=history[history["series_id"] == examples[0]][["series_id", "t", "y"]],
    )
print(f"MLflow run {mlflow_run.info.run_id} in {MLFLOW_EXPERIMENT}; model {model_info.model_uri}")

# COMMAND ----------

# for Evaluate, downstream in the same job run
for key in ("mae_ratio", "series_in", "series_forecast"):
    dbutils.jobs.taskValues.set(key=key, value=metrics[key])
dbutils.jobs.taskValues.set(key="mlflow_run_id", value=mlflow_run.info.run_id)

# COMMAND ----------

summary = {
    **metrics,
    "mlflow_run_id": mlflow_run.info.run_id,
    "model_uri": model_info.model_uri,
    "seconds": round(time.time() - started, 1),
}
dbutils.notebook.exit(json.dumps(summary))
