"""The credential scan: a table of lines that must be caught and lines that must pass, every
encoding, binaries and archives, and the file selection it shares with the upload.

Every fake secret is assembled at run time, so this file itself holds none in one piece."""
import io
import subprocess
import zipfile

import pytest

from bricktasks.errors import UserInputError
from bricktasks.source.secrets_scan import (
    ALLOW_MARKER,
    decode_text,
    find_credentials,
    refuse_tracked_dotenv,
    scan_bytes,
    scan_for_credentials,
)

FAKE_TOKEN = "dapi" + "a1" * 16
AWS_ID = "AKIA" + "QWERTYUIOPASDF23"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq81Kd0Lmn"  # 40 base64 characters
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 1 + "K1l2M3n4O5p6Q7r8"
GITHUB_FINE = "github_pat_" + "11ABCDEFG0" + "x" * 12 + "_" + ("Zy9" * 20)[:59]
SLACK = "xoxb-" + "1234567890" + "-" + "0987654321" + "-" + "AbCdEfGhIjKlMnOpQrStUvWx"
AZURE_KEY = "Zm9vYmFy" * 11  # 88 base64 characters
SAS_SIG = "sig=" + "k3Jx9%2B" + "a" * 30 + "%3D"
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----"
PGP = "-----BEGIN PGP " + "PRIVATE KEY BLOCK-----"
PASSWORD = "Hunter" + "2-Xq9!"

POSITIVES = [
    # (id, line, kind)
    ("databricks", f'TOKEN = "{FAKE_TOKEN}"', "Databricks token"),
    ("databricks-bare", f"host token {FAKE_TOKEN}", "Databricks token"),
    ("databricks-suffix", f"t = '{FAKE_TOKEN}-2'", "Databricks token"),
    ("databricks-oauth", "s = 'dose" + "0f" * 16 + "'", "Databricks OAuth secret"),
    ("aws-id", f"key = '{AWS_ID}'", "AWS access key"),
    ("aws-id-session", "key = 'ASIA" + "ZXCVBNMQWERTYU67'", "AWS access key"),
    ("aws-secret-python", f'aws_secret_access_key = "{AWS_SECRET}"', "AWS secret key"),
    ("aws-secret-ini", f"aws_secret_access_key={AWS_SECRET}", "AWS secret key"),
    ("aws-secret-dict", f'{{"AWS_SECRET_KEY": "{AWS_SECRET}"}}', "AWS secret key"),
    ("github-classic", f'GH = "{GITHUB}"', "GitHub token"),
    ("github-app", "t = 'ghs_" + "Z" * 36 + "'", "GitHub token"),
    ("github-fine-grained", f"token: {GITHUB_FINE}", "GitHub token"),
    ("github-fine-grained-bare", f"x = '{GITHUB_FINE}'", "GitHub token"),
    ("slack-webhook-bare", "w = 'https://hooks.slack.com/workflows/" + "T0000/A0000/" + "Y" * 24 + "'", "Slack webhook"),
    ("slack-bot", f"SLACK = '{SLACK}'", "Slack token"),
    ("slack-user", "s = 'xoxp-" + "12345678901-" * 3 + "abcdef'", "Slack token"),
    ("slack-webhook", "url = 'https://hooks.slack.com/services/" + "T0000/B0000/" + "X" * 24 + "'", "Slack webhook"),
    ("google", "k = 'AIza" + "Sy" + "B" * 33 + "'", "Google API key"),
    ("azure-key", f"conn = 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE_KEY};'", "Azure storage key"),
    ("azure-sas", f"url = 'https://acct.blob.core.windows.net/c?sv=2022-11-02&sp=r&{SAS_SIG}'", "Azure SAS signature"),
    ("pem", PEM, "private key"),
    ("pkcs8", "-----BEGIN " + "PRIVATE KEY-----", "private key"),
    ("openssh", "-----BEGIN OPENSSH " + "PRIVATE KEY-----", "private key"),
    ("ec", "-----BEGIN EC " + "PRIVATE KEY-----", "private key"),
    ("encrypted", "-----BEGIN ENCRYPTED " + "PRIVATE KEY-----", "private key"),
    ("pgp", PGP, "private key"),
    ("jwt", "t = 'eyJ" + "hbGciOiJIUzI1" + ".eyJ" + "zdWIiOiIxMjM0" + "." + "SflKxwRJSMeKKF2QT4fw'", "JSON web token"),
    ("url-password", f"uri = 'postgresql://etl:{PASSWORD}@db.internal:5432/sales'", "password in a URL"),
    ("url-password-mongo", f'MONGO = "mongodb+srv://app:{PASSWORD}@cluster0.example.net"', "password in a URL"),
    ("jdbc-sqlserver", f'url = "jdbc:sqlserver://h:1433;database=d;user=u;password={PASSWORD};"', "password in a connection string"),
    ("jdbc-query", f'url = "jdbc:postgresql://h/db?user=u&password={PASSWORD}"', "password in a connection string"),
    ("odbc-pwd", f'dsn = "Driver={{x}};Server=h;UID=u;PWD={PASSWORD}"', "password in a connection string"),
    ("db_password", f'db_password = "{PASSWORD}"', "password assignment"),
    ("password-single", f"password = '{PASSWORD}'", "password assignment"),
    ("passwd", f'passwd="{PASSWORD}"', "password assignment"),
    ("pwd", f'PWD = "{PASSWORD}"', "password assignment"),
    ("secret", f'SECRET = "{PASSWORD}"', "password assignment"),
    ("client_secret", f'client_secret = "{PASSWORD}"', "password assignment"),
    ("api_key", f'api_key = "{PASSWORD}"', "password assignment"),
    ("apiKey-camel", f'const apiKey = "{PASSWORD}";', "password assignment"),
    ("token-name", f'auth_token = "{PASSWORD}"', "password assignment"),
    ("secret_key", f'SECRET_KEY = "{PASSWORD}"', "password assignment"),
    ("self-attribute", f'self.password = "{PASSWORD}"', "password assignment"),
    ("annotated", f'password: str = "{PASSWORD}"', "password assignment"),
    ("dict", f'conf = {{"password": "{PASSWORD}"}}', "password assignment"),
    ("dict-single", f"conf = {{'client_secret': '{PASSWORD}'}}", "password assignment"),
    ("call-kwarg", f'conn = connect(host="h", user="u", password="{PASSWORD}")', "password assignment"),
    ("spark-option", f'df = spark.read.format("jdbc").option("password", "{PASSWORD}").load()', "password assignment"),
    ("yaml-quoted", f'  password: "{PASSWORD}"', "password assignment"),
    ("go-walrus", f'password := "{PASSWORD}"', "password assignment"),
    ("ruby-arrow", f':password => "{PASSWORD}"', "password assignment"),
    ("environ-set", f'os.environ["DB_PASSWORD"] = "{PASSWORD}"', "password assignment"),
    ("env-style", f"DB_PASSWORD={PASSWORD}", "password assignment"),
    ("env-export", f"export API_TOKEN={PASSWORD}", "password assignment"),
    ("magic-sh", f"# MAGIC %sh export SNOWFLAKE_PASSWORD={PASSWORD}", "password assignment"),
    ("ipynb-escaped", f'    "db_password = \\"{PASSWORD}\\"\\n",', "password assignment"),
    ("json-escaped-dict", f'"source": "{{\\"password\\": \\"{PASSWORD}\\"}}"', "password assignment"),
    ("sql-string", f"CREATE USER etl PASSWORD = '{PASSWORD}'", "password assignment"),
    ("numbered", f'password2 = "{PASSWORD}"', "password assignment"),
    ("signing-key", f'SIGNING_KEY = "{PASSWORD}"', "password assignment"),
    ("setdefault", f'os.environ.setdefault("SNOWFLAKE_PASSWORD", "{PASSWORD}")', "password assignment"),
]

NEGATIVES = [
    # (id, line)
    ("dbutils-secret", 'password = dbutils.secrets.get("scope", "db-password")'),
    ("dbutils-secret-kw", 'token = dbutils.secrets.get(scope="prod", key="api-token")'),
    ("os-environ", 'password = os.environ["DB_PASSWORD"]'),
    ("os-environ-get", 'token = os.environ.get("DATABRICKS_TOKEN", "")'),
    ("getenv-placeholder", 'api_key = os.getenv("API_KEY", "changeme")'),
    ("allow-marker", f'TOKEN = "{FAKE_TOKEN}"  # {ALLOW_MARKER}'),
    ("count", "token_count = 3"),
    ("format", 'TABLE_FORMAT = "delta"'),
    ("replace-me", 'password = "REPLACE_ME"'),
    ("angle", 'password = "<your-password-here>"'),
    ("empty", 'password = ""'),
    ("changeme", 'db_password = "changeme"'),
    ("stars", 'password = "********"'),
    ("template", 'password = "${DB_PASSWORD}"'),
    ("databricks-reference", 'token = "{{secrets/prod/api-token}}"'),
    ("scope-name", 'SECRET_SCOPE = "forecasting-prod"'),
    ("key-name", 'PASSWORD_KEY = "db-password"'),
    ("token-url", 'token_url = "https://login.example.com/oauth2/token"'),
    ("tokenizer", 'TOKENIZER = "bert-base-uncased"'),
    ("call-variable", "conn = connect(host=h, password=pw)"),
    ("env-from-var", "DB_PASSWORD=$VAULT_PASSWORD"),
    ("url-template", 'uri = f"postgresql://{user}:{password}@{host}/db"'),
    ("url-no-password", 'url = "https://user@example.org/repo.git"'),
    ("jdbc-placeholder", 'url = "jdbc:postgresql://h/db?user=u&password=${PW}"'),
    ("aws-documented-example", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("aws-documented-id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
    ("message", 'prompt = "Enter the password for the warehouse"'),
    ("widget", 'dbutils.widgets.text("password", "")'),
    ("comparison-name", 'if field == "password":'),
    ("public-key", "-----BEGIN PUBLIC KEY-----"),
    ("type-hint-only", "def connect(password: str) -> None:"),
    ("named-after-itself", 'PASSWORD = "password"'),
    ("elided-in-docs", "DATABRICKS_TOKEN=dapi...  # from User Settings"),
    ("names-in-a-list", '__all__ = ["FAULT_KINDS", "TokenBucket", "FaultInjector"]'),
    ("token-bucket", 'token_bucket = "per-second"'),
    ("too-short", 'password = "pw1"'),
    ("password-hash", 'password_hash = "pbkdf2:sha256:600000"'),
]


@pytest.mark.parametrize("line, kind", [case[1:] for case in POSITIVES], ids=[case[0] for case in POSITIVES])
def test_credentials_are_found(line, kind):
    assert find_credentials(f"x = 1\n{line}\n") == [(2, kind)]


@pytest.mark.parametrize("line", [case[1] for case in NEGATIVES], ids=[case[0] for case in NEGATIVES])
def test_references_placeholders_and_marked_lines_pass(line):
    assert find_credentials(line) == []


def test_the_table_is_large_enough():
    assert len(POSITIVES) >= 40 and len(NEGATIVES) >= 20


@pytest.mark.parametrize(
    "name, line",
    [
        ("db.ini", f"password = {PASSWORD}"),
        ("app.properties", f"spring.datasource.password={PASSWORD}"),
        ("conf.yaml", f"  token: {PASSWORD}"),
    ],
)
def test_unquoted_values_count_in_configuration_files_only(name, line):
    assert find_credentials(line, name) == [(1, "password assignment")]
    assert find_credentials(line, "notebook.py") == []  # in code, a bare name is a variable


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),  # with its byte order mark
        lambda text: text.encode("utf-16-le"),  # without: recognised by its NUL bytes
        lambda text: text.encode("utf-16-be"),
        lambda text: text.encode("utf-32"),
        lambda text: text.encode("utf-8-sig"),
        lambda text: text.encode("latin-1"),  # not UTF-8 (the é): read as Latin-1, not skipped
    ],
    ids=["utf-16-bom", "utf-16-le", "utf-16-be", "utf-32", "utf-8-bom", "latin-1"],
)
def test_every_text_encoding_is_read(encode):
    data = encode(f"# café\nx = 1\nTOKEN = '{FAKE_TOKEN}'\n")
    hit = scan_bytes(data, "conf/x.py")
    assert (hit.where, hit.line, hit.kind) == ("conf/x.py", 3, "Databricks token")


def test_a_binary_file_is_scanned_by_its_printable_runs():
    data = b"\x89PNG\r\n\x1a\n\x00\x00\xff" + f"password = '{PASSWORD}'".encode() + b"\x00\x01\x02"
    assert decode_text(data) is None
    hit = scan_bytes(data, "figure.png")
    assert hit.kind == "password assignment" and hit.line == 3  # the newline bytes before the run
    utf16_in_binary = b"\x00\x01\xfe" + f"token {FAKE_TOKEN}".encode("utf-16-le") + b"\xff\xfe\x00"
    assert scan_bytes(utf16_in_binary, "x.bin").kind == "Databricks token"
    assert scan_bytes(bytes(range(256)) * 4, "noise.bin") is None


def test_a_zip_archive_is_scanned_member_by_member():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pkg/__init__.py", "")
        archive.writestr("pkg/_c.py", f"A = 1\nB = 2\nT = '{FAKE_TOKEN}'\n")
    hit = scan_bytes(buffer.getvalue(), "pkg-1.0-py3-none-any.whl")
    assert (hit.where, hit.line, hit.kind) == ("pkg-1.0-py3-none-any.whl!pkg/_c.py", 3, "Databricks token")


def test_scan_names_file_and_line_but_not_the_secret(tmp_path):
    source = tmp_path / "forecasting"
    (source / "conf").mkdir(parents=True)
    (source / "conf" / "dev_config.py").write_text(f"# Databricks notebook source\nA = 1\nTOKEN = '{FAKE_TOKEN}'\n")
    with pytest.raises(UserInputError) as caught:
        scan_for_credentials(source)
    message = caught.value.one_line()
    assert "forecasting/conf/dev_config.py line 3 looks like a Databricks token" in message
    assert FAKE_TOKEN not in message and ALLOW_MARKER in message


def test_a_utf16_notebook_is_scanned(tmp_path):
    source = tmp_path / "forecasting"
    source.mkdir()
    (source / "Load.py").write_bytes(f"# Databricks notebook source\ndb_password = '{PASSWORD}'\n".encode("utf-16"))
    with pytest.raises(UserInputError, match=r"forecasting/Load.py line 2 looks like a password assignment") as caught:
        scan_for_credentials(source)
    assert PASSWORD not in caught.value.one_line()


def test_hidden_files_are_not_scanned_because_they_are_not_uploaded(tmp_path):
    (tmp_path / ".env").write_text(f"DATABRICKS_TOKEN={FAKE_TOKEN}\n")
    scan_for_credentials(tmp_path)


def test_files_git_ignores_are_not_scanned_because_they_are_not_uploaded(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("derby.log\n")
    source = tmp_path / "forecasting"
    source.mkdir()
    (source / "Train.py").write_text("# Databricks notebook source\nx = 1\n")
    (source / "derby.log").write_text(f"password = '{PASSWORD}'\n")
    scan_for_credentials(source)
    (source / "kept.txt").write_text(f"password = '{PASSWORD}'\n")
    with pytest.raises(UserInputError, match="forecasting/kept.txt line 1"):
        scan_for_credentials(source)


def test_the_example_project_passes_its_own_scan():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    scan_for_credentials(repo / "forecasting")


def test_a_tracked_dotenv_is_refused(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".env").write_text("BRICKTASKS_ENV=dev\n")
    refuse_tracked_dotenv(tmp_path)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-f", ".env"], check=True)
    with pytest.raises(UserInputError, match="tracked by git"):
        refuse_tracked_dotenv(tmp_path)
