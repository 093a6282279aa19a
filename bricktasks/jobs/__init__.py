"""The project's saved jobs (jobs/production/*.json deployed): what a deployed job's settings should be
(`desired`), the plan that brings the workspace's jobs to them (`plan`), and `invoke deploy`'s step that
prints and applies it (`deploy`), `invoke jobs`' listing (`listing`) and `invoke run-job` (`runjob`);
`clean-branch` is still to wire.

Floor: above ci/ (run-job waits and reports exactly as ci does: ci/results and ci/summary, runs/supervise,
report/); imports ci, runs, report, jobdef, console, backends, project, durations, layout, errors.
"""
