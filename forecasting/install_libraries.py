# Databricks notebook source
# MAGIC %md
# MAGIC Written by bricktasks (`upload-lib`, `checkout`, `ci`, `deploy`): installs this folder's build of the project libraries.
# MAGIC Do not edit; it is rewritten on every upload.

# COMMAND ----------

# no library uploaded for this folder yet (run `invoke upload-lib`): the cluster's libraries are used
