# Databricks notebook source
# MAGIC %md
# MAGIC # Example
# MAGIC Written by `bricktasks init` because this folder held no notebook: it installs this folder's build of the
# MAGIC libraries, picks the config and exits with its name. Replace it with your notebooks (and their tasks in jobs/).

# COMMAND ----------

# MAGIC %run ./install_libraries

# COMMAND ----------

# MAGIC %run ./set_environment

# COMMAND ----------

dbutils.notebook.exit(f"ran with the {ENVIRONMENT} config")
