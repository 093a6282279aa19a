"""The project's saved jobs (jobs/production/*.json deployed): what a deployed job's settings should be
(`desired`), the plan that brings the workspace's jobs to them (`plan`), the step that prints and applies
it for master (`invoke deploy`) or a branch's paused copies (`invoke checkout --jobs`) (`deploy`), and
`invoke clean-branch` (`clean_branch`: a branch's folder, libraries and copies); `jobs` and `run-job` are
still to wire.

Floor: on ci/'s (the deploy task refreshes master/ through workspace/ first); imports workspace, libraries,
jobdef, console, backends, project, buildinfo, layout, errors.
"""
