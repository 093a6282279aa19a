import subprocess

import pytest

from bricktasks.errors import UserInputError
from bricktasks.secrets_scan import ALLOW_MARKER, find_credentials, refuse_tracked_dotenv, scan_for_credentials

FAKE_TOKEN = "dapi" + "a1" * 16


@pytest.mark.parametrize(
    "line, kind",
    [
        (f'TOKEN = "{FAKE_TOKEN}"', "Databricks token"),
        ("key = 'AKIA" + "ABCDEFGHIJKLMNOP'", "AWS access key"),
        ("-----BEGIN RSA PRIVATE KEY-----", "private key"),
        ('password = "hunter22"', "password assignment"),
        ("conn = 'DefaultEndpointsProtocol=https;AccountKey=" + "A" * 44 + "'", "Azure storage key"),
    ],
)
def test_credentials_are_found(line, kind):
    assert find_credentials(f"x = 1\n{line}\n") == [(2, kind)]


@pytest.mark.parametrize(
    "line",
    [
        'password = dbutils.secrets.get("scope", "db-password")',
        f'TOKEN = "{FAKE_TOKEN}"  # {ALLOW_MARKER}',
        "token_count = 3",
        'TABLE_FORMAT = "delta"',
    ],
)
def test_references_and_marked_lines_pass(line):
    assert find_credentials(line) == []


def test_scan_names_file_and_line_but_not_the_secret(tmp_path):
    source = tmp_path / "forecasting"
    (source / "conf").mkdir(parents=True)
    (source / "conf" / "dev_config.py").write_text(f"# Databricks notebook source\nA = 1\nTOKEN = '{FAKE_TOKEN}'\n")
    with pytest.raises(UserInputError) as caught:
        scan_for_credentials(source)
    message = caught.value.one_line()
    assert "forecasting/conf/dev_config.py line 3 looks like a Databricks token" in message
    assert FAKE_TOKEN not in message and ALLOW_MARKER in message


def test_hidden_files_are_not_scanned_because_they_are_not_uploaded(tmp_path):
    (tmp_path / ".env").write_text(f"DATABRICKS_TOKEN={FAKE_TOKEN}\n")
    scan_for_credentials(tmp_path)


def test_a_tracked_dotenv_is_refused(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".env").write_text("BRICKTASKS_ENV=dev\n")
    refuse_tracked_dotenv(tmp_path)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-f", ".env"], check=True)
    with pytest.raises(UserInputError, match="tracked by git"):
        refuse_tracked_dotenv(tmp_path)
