"""bricktasks: Invoke tasks for a Git-based Databricks ML workflow."""
__version__ = "0.1.0"
