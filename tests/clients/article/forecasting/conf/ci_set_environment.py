# Databricks notebook source
# The CI's constants (the article keeps one such file per environment in conf/)
ENVIRONMENT = "ci"
DATA_ROWS = 50
