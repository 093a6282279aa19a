"""The project's saved jobs (jobs/production/*.json deployed): what a deployed job's settings should be
(`desired`), the plan that brings the workspace's jobs to them (`plan`), the step that prints and applies
it for master (`invoke deploy`) or a branch's paused copies (`invoke checkout --jobs`) (`deploy`),
`invoke clean-branch` (`clean_branch`: a branch's folder, libraries and copies), `invoke jobs`' listing
(`listing`) and `invoke run-job` (`runjob`).

Floor: above ci/ (run-job waits and reports exactly as ci does: ci/results and ci/summary, runs/supervise,
report/); imports ci, runs, report, workspace, libraries, jobdef, console, backends, project, buildinfo,
durations, layout, errors.
"""
