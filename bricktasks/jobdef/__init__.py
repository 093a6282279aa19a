"""Job definitions in the Jobs API's shape: the CI run's (jobs/ci.json) read, checked and handed on as values.

Floor: backends' value types, dag/, errors. Nothing here builds, uploads or runs anything.
"""
