"""The project's saved jobs (jobs/production/*.json deployed): what a deployed job's settings should be, and
the plan that brings the workspace's jobs to them. Pure values so far; deploy, `jobs`, `run-job` and
`clean-branch` wire them to a backend.

Floor: on ci/'s (deploy will refresh master/ through workspace/ first); imports jobdef, console, layout.
"""
