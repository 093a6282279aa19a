"""The project's saved jobs (jobs/production/*.json deployed): what a deployed job's settings should be
(`desired`), the plan that brings the workspace's jobs to them (`plan`), and `invoke deploy`'s step that
prints and applies it (`deploy`); `jobs`, `run-job` and `clean-branch` are still to wire.

Floor: on ci/'s (the deploy task refreshes master/ through workspace/ first); imports jobdef, console,
backends, project, layout.
"""
