"""`bricktasks init`: the workflow scaffolded into another repository.

`options` (the flags, checked: nothing is written for a bad one), `detect` (notebook folders by their
Databricks header, a pyproject.toml/setup.py library), `contents` (what each file holds: templates/ are
package data), `write` (never outside the target, never over a file without --force, idempotent),
`wire` (`--wire-notebooks`: the %run cells), `init` (the whole command). May import workspace/
(the helper notebooks' text), jobdef/, layout, settings and errors; nothing imports it but bricktasks.main.
"""
