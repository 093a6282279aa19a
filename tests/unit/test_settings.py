"""Settings: precedence, backend choice, strict .env parsing, and the token kept out of sight."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bricktasks.errors import ConfigError
from bricktasks.settings import Settings, load_settings, setting_specs

TOKEN = "dapi" + "0123456789abcdef" * 2


def write_env(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".env").write_text(text)
    return tmp_path


def test_defaults_choose_the_local_backend(tmp_path):
    settings = load_settings(tmp_path, {})
    assert settings.backend == "local"
    assert settings.workspace_root == "/Projects/forecasting"
    assert settings.local_root == ".databricks-local"
    assert settings.resolved_library_root == "/Projects/forecasting/libraries"
    assert settings.ci_notebook_list == ["ModelTraining"]


def test_precedence_flags_over_environment_over_dotenv_over_defaults(tmp_path):
    write_env(tmp_path, "BRICKTASKS_ENV=from_dotenv\nBRICKTASKS_RESULTS_DIR=dotenv-results\nBRICKTASKS_SOURCE_DIR=dotenv-src\n")
    environ = {"BRICKTASKS_ENV": "from_environ", "BRICKTASKS_RESULTS_DIR": "environ-results"}
    settings = load_settings(tmp_path, environ, {"env": "from_flag"})
    assert settings.env == "from_flag"
    assert settings.results_dir == "environ-results"
    assert settings.source_dir == "dotenv-src"
    assert settings.dist_dir == "dist"


def test_empty_flag_and_empty_environment_fall_through(tmp_path):
    write_env(tmp_path, "BRICKTASKS_ENV=kyle\n")
    assert load_settings(tmp_path, {"BRICKTASKS_ENV": ""}, {"env": None}).env == "kyle"


def test_host_selects_databricks_and_needs_a_token(tmp_path):
    with pytest.raises(ConfigError, match="DATABRICKS_TOKEN is not set"):
        load_settings(tmp_path, {"DATABRICKS_HOST": "https://example.cloud.databricks.com"})
    settings = load_settings(tmp_path, {"DATABRICKS_HOST": "https://example.cloud.databricks.com", "DATABRICKS_TOKEN": TOKEN})
    assert settings.backend == "databricks"


def test_profile_selects_databricks_without_a_token(tmp_path):
    assert load_settings(tmp_path, {"DATABRICKS_CONFIG_PROFILE": "dev"}).backend == "databricks"


def test_explicit_local_backend_wins_over_a_host(tmp_path):
    environ = {"DATABRICKS_HOST": "https://x.databricks.com", "DATABRICKS_TOKEN": TOKEN, "BRICKTASKS_BACKEND": "local"}
    assert load_settings(tmp_path, environ).backend == "local"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"BRICKTASKS_BACKEND": "spark"}, "BRICKTASKS_BACKEND='spark' is not a backend"),
        ({"BRICKTASKS_BACKEND": "databricks"}, "DATABRICKS_HOST is not set"),
        ({"CI": "true"}, "CI is set but DATABRICKS_HOST is not"),
        ({"DATABRICKS_HOST": "adb-1.azuredatabricks.net", "DATABRICKS_TOKEN": TOKEN}, "is not a URL"),
        ({"BRICKTASKS_WORKSPACE_ROOT": "Projects/x"}, "must be an absolute project folder"),
    ],
)
def test_bad_configuration_is_one_config_error(tmp_path, environ, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ)
    assert message in caught.value.one_line()
    assert "\n" not in caught.value.one_line()
    assert caught.value.exit_code == 2


def test_ci_may_run_locally_only_when_asked_explicitly(tmp_path):
    assert load_settings(tmp_path, {"CI": "true", "BRICKTASKS_BACKEND": "local"}).backend == "local"
    write_env(tmp_path, "BRICKTASKS_BACKEND=local\n")
    assert load_settings(tmp_path, {"CI": "1"}).backend == "local"


@pytest.mark.parametrize("line", ["this is not a setting", "BRICKTASKS_ENV", "'unterminated=1"])
def test_malformed_dotenv_line_names_the_line_not_its_content(tmp_path, line):
    write_env(tmp_path, f"BRICKTASKS_ENV=dev\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {})
    assert ".env line 2 is malformed" in caught.value.one_line()
    assert line not in caught.value.one_line()


def test_unknown_bricktasks_name_in_dotenv_is_refused(tmp_path):
    write_env(tmp_path, "BRICKTASKS_BAKEND=local\n")
    with pytest.raises(ConfigError, match="unknown setting BRICKTASKS_BAKEND"):
        load_settings(tmp_path, {})


def test_dotenv_supports_export_quotes_and_comments(tmp_path):
    write_env(tmp_path, '# a comment\nexport BRICKTASKS_ENV="joe"\nBRICKTASKS_TIMEOUT=30m # inline\n')
    settings = load_settings(tmp_path, {})
    assert (settings.env, settings.timeout) == ("joe", "30m")


def test_token_never_in_repr_or_errors(tmp_path):
    write_env(tmp_path, f"DATABRICKS_HOST=https://x.databricks.com\nDATABRICKS_TOKEN={TOKEN}\n")
    settings = load_settings(tmp_path, {})
    assert settings.databricks_token == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert settings.secret_values() == [TOKEN]
    (tmp_path / ".env").write_text(f"DATABRICKS_TOKEN={TOKEN}\nDATABRICKS_HOST=not-a-url\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {})
    assert TOKEN not in caught.value.one_line()


def test_env_example_documents_every_setting():
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    for spec in setting_specs():
        assert f"\n{spec.metadata['env']}=" in example, spec.metadata["env"]


def test_every_field_declares_env_doc_and_sensitivity():
    for spec in setting_specs():
        assert spec.metadata["env"].startswith(("DATABRICKS_", "BRICKTASKS_"))
        assert spec.metadata["doc"]
    assert [s.name for s in setting_specs() if s.metadata["sensitive"]] == ["databricks_token"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().env = "x"  # frozen


# ---- issue 11: a malformed or misplaced token, and .env files in other encodings ---------------

HOST = "https://example.cloud.databricks.com"


@pytest.mark.parametrize(
    "token, kind",
    [
        (TOKEN + "\n", "a newline"),
        (TOKEN + "\r\n", "a newline"),
        (TOKEN + " ", "whitespace"),
        ("\t" + TOKEN, "whitespace"),
        (TOKEN[:10] + " " + TOKEN[10:], "whitespace"),
        (TOKEN[:10] + "\x1b[0m" + TOKEN[10:], "a control character"),
        (TOKEN[:10] + "\x00" + TOKEN[10:], "a control character"),
        (TOKEN + "é", "a non-ASCII character"),
        (TOKEN[:5] + "\u200b" + TOKEN[5:], "a non-ASCII character"),  # a zero-width space pasted from a web page
    ],
)
def test_a_malformed_token_is_a_config_error_that_does_not_show_it(tmp_path, token, kind):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"DATABRICKS_HOST": HOST, "DATABRICKS_TOKEN": token})
    line = caught.value.one_line()
    assert f"DATABRICKS_TOKEN holds {kind}" in line and caught.value.exit_code == 2
    assert TOKEN[:8] not in line and TOKEN[-8:] not in line and "\n" not in line


def test_a_malformed_token_in_dotenv_is_refused_too(tmp_path):
    write_env(tmp_path, f'DATABRICKS_HOST={HOST}\nDATABRICKS_TOKEN="{TOKEN}\\n"\n')
    with pytest.raises(ConfigError, match="DATABRICKS_TOKEN holds a newline") as caught:
        load_settings(tmp_path, {})
    assert TOKEN not in caught.value.one_line()


def test_a_malformed_token_does_not_stop_a_local_run(tmp_path):
    """The local backend never sends the token (a developer's stale .env must not block local work)."""
    assert load_settings(tmp_path, {"DATABRICKS_TOKEN": TOKEN + "\n"}).backend == "local"


@pytest.mark.parametrize(
    "environ",
    [
        {"DATABRICKS_HOST": TOKEN, "DATABRICKS_TOKEN": HOST},  # the wrong way round
        {"DATABRICKS_HOST": TOKEN, "DATABRICKS_TOKEN": TOKEN},
        {"DATABRICKS_HOST": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln" + TOKEN, "DATABRICKS_TOKEN": "x" * 20},
    ],
)
def test_a_token_given_as_the_host_is_never_shown(tmp_path, environ):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ)
    line = caught.value.one_line()
    assert "DATABRICKS_HOST is not a URL" in line and "swapped" in line
    assert TOKEN not in line and TOKEN[:12] not in line


def test_a_url_given_as_the_token_is_refused(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"DATABRICKS_HOST": HOST, "DATABRICKS_TOKEN": HOST})
    assert "DATABRICKS_TOKEN is a URL" in caught.value.one_line() and "swapped" in caught.value.one_line()


@pytest.mark.parametrize("host", [HOST + "\n", f"{HOST} {TOKEN}", "https://exa\x1bmple.com"])
def test_a_host_with_whitespace_or_control_characters_is_refused_unshown(tmp_path, host):
    with pytest.raises(ConfigError, match="DATABRICKS_HOST holds") as caught:
        load_settings(tmp_path, {"DATABRICKS_HOST": host, "DATABRICKS_TOKEN": TOKEN})
    assert TOKEN not in caught.value.one_line() and "\x1b" not in caught.value.one_line()


def test_unvalidated_secrets_name_every_value_an_early_error_might_show(tmp_path):
    from bricktasks.settings import unvalidated_secrets

    write_env(tmp_path, f"DATABRICKS_TOKEN={TOKEN}\n")
    assert unvalidated_secrets(tmp_path, {"DATABRICKS_HOST": "dapi-in-the-host-field"}) == [TOKEN, "dapi-in-the-host-field"]
    assert unvalidated_secrets(tmp_path, {"DATABRICKS_HOST": HOST}) == [TOKEN]
    (tmp_path / ".env").write_bytes(b"\xff\xfe")  # unreadable: the real load reports it
    assert unvalidated_secrets(tmp_path, {"DATABRICKS_TOKEN": "t0ken"}) == ["t0ken"]


def test_a_dotenv_with_a_utf8_bom_is_read_whole(tmp_path):
    """Notepad's UTF-8 BOM used to hide the first line: the host was dropped and the task ran locally."""
    (tmp_path / ".env").write_bytes(f"\ufeffDATABRICKS_HOST={HOST}\nDATABRICKS_TOKEN={TOKEN}\n".encode())
    settings = load_settings(tmp_path, {})
    assert settings.databricks_host == HOST and settings.backend == "databricks"


@pytest.mark.parametrize(
    "data, where",
    [
        ("BRICKTASKS_ENV=dev\nDATABRICKS_TOKEN=caf\xe9-secret\n".encode("latin-1"), "line 2"),
        (f"DATABRICKS_TOKEN={TOKEN}\n".encode("utf-16"), "UTF-16"),
        (b"BRICKTASKS_ENV=dev\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 2"),
        (b"BRICKTASKS_ENV=dev\nBRICKTASKS_TIMEOUT=5m\nDATABRICKS_TOKEN=se\x00cret\n", "line 3"),
        (b"DATABRICKS_TOKEN=se\x1b[31mcret\n", "line 1"),
    ],
)
def test_a_binary_latin1_or_utf16_dotenv_is_refused_by_position_without_its_values(tmp_path, data, where):
    (tmp_path / ".env").write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {})
    line = caught.value.one_line()
    assert line.startswith(".env ") and where in line and "UTF-8" in line
    assert "secret" not in line and "cret" not in line and TOKEN not in line and "PNG" not in line
