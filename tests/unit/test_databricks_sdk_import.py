"""The Databricks backend imports databricks-sdk without its aggregate `__init__`, and the
package stays whole for anyone else in the process. Each check runs in a fresh interpreter:
what is imported is process-wide state."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_backend_imports_only_the_services_it_uses_and_jobs_on_the_first_run_call():
    loaded, after_run_call = run_python("""
        import sys
        from bricktasks.backends.databricks import DatabricksBackend
        def services():
            return sorted(m for m in sys.modules if m.startswith("databricks.sdk.service."))
        print(services())
        backend = DatabricksBackend("http://127.0.0.1:9", "dapi-test", retry_timeout_seconds=1, http_timeout_seconds=1)
        backend.client.jobs
        print(services())
    """).splitlines()[-2:]
    assert "databricks.sdk.service.workspace" in loaded and "databricks.sdk.service.files" in loaded
    assert "databricks.sdk.service.jobs" not in loaded
    assert "databricks.sdk.service.catalog" not in loaded and "databricks.sdk.service.ml" not in loaded
    assert "databricks.sdk.service.jobs" in after_run_call


def test_workspace_client_is_still_importable_after_the_backend():
    answer = run_python("""
        import bricktasks.backends.databricks
        from databricks.sdk import WorkspaceClient
        import databricks.sdk
        from databricks.sdk.core import Config
        client = WorkspaceClient(config=Config(host="http://127.0.0.1:9", token="dapi-test", auth_type="pat",
                                               retry_timeout_seconds=1, http_timeout_seconds=1))
        print(databricks.sdk.WorkspaceClient is WorkspaceClient, type(client.workspace).__name__)
    """)
    assert answer.splitlines()[-1] == "True WorkspaceExt"


def test_a_fully_imported_sdk_is_used_as_it_is():
    answer = run_python("""
        import databricks.sdk
        full = databricks.sdk
        from bricktasks.backends.databricks_sdk import SdkClient
        import sys
        print(sys.modules["databricks.sdk"] is full, type(full).__name__)
    """)
    assert answer == "True module"


def test_a_missing_name_is_still_an_attribute_error():
    answer = run_python("""
        import bricktasks.backends.databricks
        import databricks.sdk
        try:
            databricks.sdk.NoSuchThing
        except AttributeError as exc:
            print("AttributeError", "NoSuchThing" in str(exc))
    """)
    assert answer == "AttributeError True"


def test_google_auth_loads_at_its_first_use_and_is_whole_then():
    """Impersonation and service accounts (with their cryptography) are not loaded for a PAT, and
    `google-credentials` auth still finds the real classes once it needs them."""
    before, after = run_python("""
        import json, sys
        import bricktasks.backends.databricks
        print("cryptography.x509" in sys.modules)
        from google.oauth2 import service_account
        from google.auth import impersonated_credentials
        key = service_account.Credentials.from_service_account_info  # the first lookup runs the module's code
        print(all(["cryptography.x509" in sys.modules, callable(key),
                   impersonated_credentials.Credentials.__module__ == "google.auth.impersonated_credentials",
                   sys.modules["databricks.sdk.credentials_provider"].service_account is service_account]))
    """).splitlines()[-2:]
    assert (before, after) == ("False", "True")
