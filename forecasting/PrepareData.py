# Databricks notebook source
# MAGIC %md
# MAGIC # Prepare data
# MAGIC Writes the input of `ModelTraining`: `N_SERIES` series of `SERIES_LENGTH` points, each with one or
# MAGIC two level shifts at known positions, to `INPUT_PATH` (and the true breaks beside it, for checks).
# MAGIC
# MAGIC The first task of the CI job (`jobs/ci.json`): it tells the tasks downstream what it prepared
# MAGIC through task values, `series` (how many) and `input_path` (where).
# MAGIC
# MAGIC Settings come from `set_environment` (see `conf/`). No widgets.

# COMMAND ----------

# MAGIC %run ./install_libraries

# COMMAND ----------

# MAGIC %run ./set_environment

# COMMAND ----------

import json

import regimecast

panel, true_breaks = regimecast.make_panel(n_series=N_SERIES, length=SERIES_LENGTH, seed=SEED)
print(f"generated {panel['series_id'].nunique()} series, {len(panel)} rows")

# COMMAND ----------

series = spark.createDataFrame(panel)
series.write.format(TABLE_FORMAT).mode("overwrite").save(INPUT_PATH)
dbutils.fs.put(
    f"{INPUT_PATH}_true_breaks.json".replace(VOLUMES, "/Volumes", 1),
    json.dumps(true_breaks),
    overwrite=True,
)
display(panel.head(20))

# COMMAND ----------

n_series = int(panel["series_id"].nunique())
# for the tasks downstream in the same job run (outside a job run, set stores nothing)
dbutils.jobs.taskValues.set(key="series", value=n_series)
dbutils.jobs.taskValues.set(key="input_path", value=INPUT_PATH)

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"series": n_series, "rows": int(len(panel)), "path": INPUT_PATH}))
