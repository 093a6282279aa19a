# Databricks notebook source
# MAGIC %run ./conf/production_config
