"""A script written against a real Databricks workspace, as a user writes one: nothing in it knows about
the emulator. Only `WorkspaceClient()` from the environment (DATABRICKS_HOST, DATABRICKS_TOKEN).

It finds who it is, makes a folder in that user's home, uploads a notebook and exports it as HTML and
JUPYTER, keeps a secret in a new scope, makes a volume and puts a CSV there, then runs the notebook with
a PyPI library: the notebook reads the secret and the CSV and answers with what it derived from both
(never the secret). The script waits, prints that answer and cleans everything up.

    SCRIPT_PYPI_PACKAGE   the PyPI library the run installs (default: tabulate)
    SCRIPT_PYPI_REPO      the index it comes from on a cluster (default: unset, i.e. PyPI); a serverless
                          environment takes plain requirements only, from the workspace's default index
    SCRIPT_CLUSTER_ID     run on this all-purpose cluster (default: unset, i.e. serverless)
    SCRIPT_CATALOG, SCRIPT_SCHEMA   where the volume is made (default: main.default)

Exit 0 when the run succeeded and its answer checks out; 1 otherwise.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import secrets
import sys
import time
from datetime import timedelta

from databricks.sdk import WorkspaceClient
from databricks.sdk.service import catalog, compute, jobs, workspace

NOTEBOOK = '''# Databricks notebook source
# MAGIC %md
# MAGIC # Secret and volume check
# MAGIC Reads a secret and a CSV in a volume, and answers what it derived from both.

# COMMAND ----------

import hashlib
import hmac
import importlib
import importlib.metadata
import json

for name in ("scope", "key", "csv_path", "package"):
    dbutils.widgets.text(name, "")
package = dbutils.widgets.get("package")
module = importlib.import_module(package.replace("-", "_"))

# COMMAND ----------

secret = dbutils.secrets.get(dbutils.widgets.get("scope"), dbutils.widgets.get("key"))
text = dbutils.fs.head(dbutils.widgets.get("csv_path"))
rows = [line.split(",") for line in text.strip().splitlines()[1:]]
total = sum(int(amount) for _, amount in rows)
signature = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
dbutils.notebook.exit(json.dumps({
    "rows": len(rows),
    "total": total,
    "signature": signature,
    "library": f"{package} {importlib.metadata.version(package)} ({module.__name__})",
}))
'''

CSV = "item,amount\nbolts,12\nnuts,30\nwashers,58\n"


def main() -> int:
    w = WorkspaceClient()
    suffix = f"{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}"
    package = os.environ.get("SCRIPT_PYPI_PACKAGE", "tabulate")
    repo = os.environ.get("SCRIPT_PYPI_REPO") or None
    cluster_id = os.environ.get("SCRIPT_CLUSTER_ID") or None
    catalog_name = os.environ.get("SCRIPT_CATALOG", "main")
    schema_name = os.environ.get("SCRIPT_SCHEMA", "default")

    me = w.current_user.me()
    print(f"signed in as {me.user_name}")
    folder = f"/Users/{me.user_name}/client-script-{suffix}"
    scope = f"client-script-{suffix}"
    volume_name = f"client_script_{suffix}"
    volume_full_name = f"{catalog_name}.{schema_name}.{volume_name}"
    run_id = None
    try:
        w.workspace.mkdirs(folder)
        notebook_path = f"{folder}/check"
        w.workspace.upload(notebook_path, NOTEBOOK.encode(), format=workspace.ImportFormat.SOURCE,
                           language=workspace.Language.PYTHON)
        html = base64.b64decode(w.workspace.export(notebook_path, format=workspace.ExportFormat.HTML).content or "")
        ipynb = json.loads(base64.b64decode(w.workspace.export(notebook_path, format=workspace.ExportFormat.JUPYTER).content or ""))
        kinds = [cell["cell_type"] for cell in ipynb["cells"]]
        print(f"exported {notebook_path}: HTML {len(html)} bytes, JUPYTER {len(kinds)} cells ({', '.join(kinds)})")

        secret_value = secrets.token_urlsafe(24)
        w.secrets.create_scope(scope)
        w.secrets.put_secret(scope, "signing-key", string_value=secret_value)
        print(f"secret scope {scope}: {[s.key for s in w.secrets.list_secrets(scope)]}")

        w.volumes.create(catalog_name, schema_name, volume_name, catalog.VolumeType.MANAGED)
        csv_path = f"/Volumes/{catalog_name}/{schema_name}/{volume_name}/parts.csv"
        w.files.upload(csv_path, io.BytesIO(CSV.encode()), overwrite=True)
        print(f"uploaded {csv_path} ({w.files.get_metadata(csv_path).content_length} bytes)")

        task = jobs.SubmitTask(
            task_key="check",
            notebook_task=jobs.NotebookTask(notebook_path, base_parameters={
                "scope": scope, "key": "signing-key", "csv_path": csv_path, "package": package}),
        )
        environments = None
        library = compute.PythonPyPiLibrary(package=package, repo=repo)
        if cluster_id:
            task.existing_cluster_id = cluster_id
            task.libraries = [compute.Library(pypi=library)]
        else:  # serverless: the library comes with the task's environment
            environments = [jobs.JobEnvironment(environment_key="default",
                                                spec=compute.Environment(environment_version="2", dependencies=[package]))]
            task.environment_key = "default"
        waiter = w.jobs.submit(run_name=f"client-script-{suffix}", tasks=[task], environments=environments)
        run_id = waiter.run_id
        print(f"submitted run {run_id} on {'cluster ' + cluster_id if cluster_id else 'serverless'} with {package}")
        run = waiter.result(timeout=timedelta(minutes=30))
        assert run.state is not None and run.tasks
        print(f"run {run_id}: {run.state.life_cycle_state.value if run.state.life_cycle_state else '?'} "
              f"{run.state.result_state.value if run.state.result_state else ''}")
        output = w.jobs.get_run_output(run.tasks[0].run_id)
        answer = json.loads(output.notebook_output.result if output.notebook_output and output.notebook_output.result else "{}")
        expected = hmac.new(secret_value.encode(), CSV.encode(), hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(answer.pop("signature", ""), expected)
        print(f"run output: {json.dumps(answer, sort_keys=True)}")
        print(f"signature of the CSV under the secret: {'matches' if signed else 'DOES NOT MATCH'}")
        return 0 if signed and answer.get("rows") == 3 and answer.get("total") == 100 else 1
    except Exception as exc:  # a script reports what failed, then still cleans up
        print(f"failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        _clean_up(w, folder, scope, volume_full_name, run_id)


def _clean_up(w: WorkspaceClient, folder: str, scope: str, volume: str, run_id: int | None) -> None:
    steps = [
        ("run", lambda: run_id is not None and w.jobs.delete_run(run_id)),
        ("secret scope", lambda: w.secrets.delete_scope(scope)),
        ("volume", lambda: w.volumes.delete(volume)),
        ("folder", lambda: w.workspace.delete(folder, recursive=True)),
    ]
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # what was never made cannot be deleted: say so and go on
            print(f"clean-up of the {what}: {type(exc).__name__}: {exc}", file=sys.stderr)
    print("cleaned up")


if __name__ == "__main__":
    sys.exit(main())
