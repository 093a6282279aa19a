"""Refuse to upload credentials: scan what would go up, and refuse a `.env` tracked by git.

What is scanned is exactly what is sent: the notebooks folder as `collect_source` selects it
(git's view, see bricktasks.source.files), and every member of each built wheel or egg before it is
uploaded (bricktasks.libraries.build), so a token in `libs/<library>/<package>/_c.py` is caught too.

A hit names the file and line, never the secret. A false positive is allowed by putting
`bricktasks: allow-secret` in a comment on the same line.

The rules follow the published ones of gitleaks (config/gitleaks.toml) and detect-secrets
(its keyword, basic-auth, AWS, Azure, private-key, Slack and GitHub detectors):
- tokens with a fixed shape: Databricks `dapi…` and `dose…`, AWS key ids (`AKIA`, `ASIA`, …),
  GitHub (`ghp_` and its kin, `github_pat_`), Slack (`xox?-`, webhooks), Google API keys, JSON web
  tokens, Azure storage account keys and SAS signatures (`sig=`), private key blocks (PEM, OpenSSH,
  PGP, PuTTY);
- AWS secret keys: 40 base64 characters near `aws…key/secret` (detect-secrets' AWSKeyDetector);
- a password in a URL (`scheme://user:pw@host`) or in a JDBC/ODBC string (`;password=…`, `&pwd=…`);
- a string literal assigned to a name that says password, passwd, pwd, passphrase, secret, token,
  api key, access key, private key, auth key or account key (`db_password = "…"`,
  `{"password": "…"}`, `connect(password="…")`, `password: str = "…"`, `.option("password", "…")`,
  `DB_PASSWORD=…` in shell/env style, `password = …` in .ini/.properties/.yaml files) — detect-secrets'
  KeywordDetector, which also requires quotes in code (so `password = get_password()` passes).
Placeholders are not secrets: "", "REPLACE_ME", "changeme", "<your-password-here>", "${VAR}",
"{{secrets/scope/key}}", "xxxx", "****", values with "example"/"dummy"/"placeholder", a value that
names a key rather than holds one ("db-password"), and anything read at run time
(`dbutils.secrets.get`, `os.environ`), which is not a literal.

Text is decoded by its byte order mark (UTF-8, UTF-16, UTF-32), else as UTF-8, else (not UTF-8,
no NUL bytes) as Latin-1; UTF-16 without a mark is recognised by its NUL bytes. Anything else is
binary: its printable runs (ASCII, and UTF-16LE as Windows tools write) are scanned, and a zip
archive (a wheel, an egg, a .dbc) is scanned member by member.
"""
from __future__ import annotations

import io
import re
import subprocess
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bricktasks.errors import UserInputError
from bricktasks.source.items import SourceItem, collect_source  # the same file selection, and the same bytes, as the upload

__all__ = [
    "ALLOW_MARKER",
    "HINT",
    "Hit",
    "find_credentials",
    "scan_bytes",
    "scan_for_credentials",
    "scan_archive",
    "refuse_tracked_dotenv",
]

ALLOW_MARKER = "bricktasks: allow-secret"
HINT = f"keep it in a secret scope (dbutils.secrets.get) or, for a false positive, add '# {ALLOW_MARKER}' to that line"
ARCHIVE_DEPTH = 2  # an archive in an archive is scanned too; deeper nesting is not expected in a library
_B64 = r"A-Za-z0-9+/"

# (kind, pattern): the first that matches a line names the hit. Shapes first, then the keyword rules.
SHAPES = [
    ("Databricks token", re.compile(r"(?<![A-Za-z0-9])dapi[0-9a-f]{32}(?:-\d)?(?![A-Za-z0-9])")),
    ("Databricks OAuth secret", re.compile(r"(?<![A-Za-z0-9])dose[0-9a-f]{32}(?![A-Za-z0-9])")),
    ("AWS access key", re.compile(
        r"(?<![A-Z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z2-7]{16}(?![A-Z0-9])"
    )),
    (
        "AWS secret key",
        re.compile(rf"(?i)aws[\w.-]{{0,20}}?(?:secret|key|pwd|pw|password|pass|token)[\w.\"'\]\s-]{{0,20}}?[:=,>]+\s*[\\\"'`]*([{_B64}]{{40}})(?![{_B64}])"),
    ),
    ("GitHub token", re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])")),
    ("Slack token", re.compile(r"(?<![A-Za-z0-9])xox[abposre]-[0-9A-Za-z-]{10,}")),
    ("Slack webhook", re.compile(r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/]{20,}")),
    ("Google API key", re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_-])")),
    ("Azure storage key", re.compile(rf"(?i)AccountKey\s*=\s*[{_B64}]{{40,}}={{0,2}}")),
    ("Azure SAS signature", re.compile(r"(?i)(?:[?&;]|\\u0026)sig=(?:[A-Za-z0-9+/]|%2[BbFf]){30,}(?:=|%3[Dd]){0,2}")),
    ("private key", re.compile(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\d")),
    ("JSON web token", re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
]
# scheme://user:password@host (detect-secrets' BasicAuthDetector), and ;password=… in JDBC/ODBC strings
URL_PASSWORD = re.compile(r"""(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@'"`?#]+:(?P<value>[^\s/@'"`]+)@[^\s'"`]""")
CONNECTION_PASSWORD = re.compile(r"""(?i)(?:[?&;]|\\u0026)(?:password|passwd|pwd)=(?P<value>[^&;\s'"`]+)""")
# name = "value", name: "value", name := "value", name => "value", "name": "value" (a quote may be escaped: JSON, .ipynb)
QUOTED = re.compile(
    r"""(?P<name>[A-Za-z_][\w.-]*)\\?["'`]?\]?\s*(?::\s*[A-Za-z_][\w\[\], |]*?\s*(?==))?"""
    r"""(?:=|:=|:|=>|<-)\s*(?:[rRbBuU]{0,2})(?P<quote>\\?["'`])(?P<value>.*?)(?P=quote)"""
)
# a call's first two arguments: .option("password", …), headers.set("token", …), os.environ.setdefault("DB_PASSWORD", …)
QUOTED_PAIR = re.compile(r"""\(\s*(?P<quote>\\?["'])(?P<name>[A-Za-z_][\w.-]*)(?P=quote)\s*,\s*(?P<vq>\\?["'])(?P<value>.*?)(?P=vq)""")
# shell and env style, upper case: DB_PASSWORD=value, export API_TOKEN=value
ENV_STYLE = re.compile(r"""(?:^|[\s;&(])(?:export\s+|set\s+)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>[^\s'"`;&|#()\[\]{}<>$]+)(?=$|[\s;&|#])""")
# configuration files: password = value, password: value
CONFIG_STYLE = re.compile(r"""^\s*(?P<name>[A-Za-z_][\w.-]*)\s*[=:]\s*(?P<value>[^\s'"`#;]+)\s*(?:[#;].*)?$""")
CONFIG_SUFFIXES = {".ini", ".cfg", ".conf", ".properties", ".env", ".yaml", ".yml", ".txt", ".sh", ".bash", ".toml"}

# a line (or a file) holding none of these could not start a hit: skipped at the cost of one search
TRIGGERS = [
    "dapi", "dose", "a3t", "akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "aipa", "anpa", "anva",
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "hooks.slack", "aiza", "sig=", "begin", "putty", "eyj",
    "://", "pass", "pwd", "secret", "token", "key", "credential",
]
TRIGGER = re.compile("|".join(map(re.escape, TRIGGERS)), re.IGNORECASE)
SECRET_WORDS = {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "apikey", "credential", "credentials"}
SECRET_PAIRS = {
    ("api", "key"), ("access", "key"), ("private", "key"), ("auth", "key"), ("account", "key"), ("secret", "key"),
    ("client", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"), ("service", "key"),
    ("db", "pass"), ("database", "pass"), ("key", "pass"),
}
# a name may end with one of these and still hold the secret itself (password2, token_value)
NEUTRAL_ENDINGS = {"value", "val", "str", "string", "plain", "raw", "text", "b64", "base64"}
PLACEHOLDER = re.compile(
    r"""(?ix)^(?:
        |.*(?:replace|change[_ -]?me|changeit|example|placeholder|dummy|redacted|your[_ -]|insert[_ -]|enter[_ -]|todo|fixme).*
        |none|null|nil|true|false|undefined|secret|password|token|test|n/?a
        |(.)\1*                              # xxxx, ****, 0000
        |.*(?:\.\.\.|…).*                      # dapi..., an elided value in documentation
        |<[^>]*>|\[[^\]]*\]                  # <your-password>, [password]
        |.*(?:\$\{|\{\{|\$\(|%\().*          # ${VAR}, {{secrets/scope/key}}, $(cmd), %(name)s
        |\$[A-Za-z_]\w*|%[A-Za-z_]\w*%       # $VAR, %VAR%
        |\{[^}]*\}                           # {}, an f-string's {value}
    )$"""
)
MIN_SECRET_LENGTH = 6  # shorter literals are test values (gitleaks' generic rule wants 10 characters)


@dataclass(frozen=True)
class Hit:
    """A line that looks like it holds a credential: where (a file, or archive!member), line, kind."""

    where: str
    line: int
    kind: str


def _words(name: str) -> list[str]:
    """`dbPassword` -> [db, password]; `DB_PASSWORD_KEY` -> [db, password, key]."""
    return [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]


def _names_a_secret(name: str) -> bool:
    """The name ends with a secret's word: db_password, clientSecret, API_KEY, password2, token_value;
    not token_bucket, secret_scope, tokenizer (a word of its own), password_hash."""
    words = _words(name.rsplit(".", 1)[-1])  # self.password -> password
    while words and (words[-1].isdigit() or words[-1] in NEUTRAL_ENDINGS):
        words.pop()
    if not words:
        return False
    return words[-1] in SECRET_WORDS or tuple(words[-2:]) in SECRET_PAIRS


def _is_literal_secret(value: str, name: str = "") -> bool:
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH or any(char.isspace() for char in value) or PLACEHOLDER.match(value):
        return False
    # PASSWORD = "password", key="db-password": the name of a key, not a secret
    return not (value.lower() == name.lower() or _names_a_secret(value))


def _keyword_hit(line: str, config_file: bool) -> str | None:
    for pattern in (QUOTED, QUOTED_PAIR, ENV_STYLE, *((CONFIG_STYLE,) if config_file else ())):
        for match in pattern.finditer(line):
            name = match.group("name")
            if _names_a_secret(name) and _is_literal_secret(match.group("value"), name):
                return "password assignment"
    return None


def _line_kind(line: str, config_file: bool) -> str | None:
    if not TRIGGER.search(line):
        return None
    for kind, pattern in SHAPES:
        # the providers' documented examples (AKIAIOSFODNN7EXAMPLE) are not secrets (gitleaks' allowlist)
        if any("example" not in match.group().lower() for match in pattern.finditer(line)):
            return kind
    for kind, pattern in (("password in a URL", URL_PASSWORD), ("password in a connection string", CONNECTION_PASSWORD)):
        if any(_is_literal_secret(match.group("value")) for match in pattern.finditer(line)):
            return kind
    return _keyword_hit(line, config_file)


def find_credentials(text: str, name: str = "") -> list[tuple[int, str]]:
    """(line number, kind) of each line that looks like it holds a credential; `name` (the file's
    name) says whether unquoted `key = value` lines are configuration (.ini, .yaml, …) or code."""
    config_file = PurePosixPath(name).suffix.lower() in CONFIG_SUFFIXES or PurePosixPath(name).name.startswith(".env")
    hits: list[tuple[int, str]] = []
    lowered = text.lower()
    if not any(trigger in lowered for trigger in TRIGGERS):
        return hits  # a few substring searches over the whole text clear most data files
    for number, line in enumerate(text.splitlines(), start=1):
        if ALLOW_MARKER in line:
            continue
        kind = _line_kind(line, config_file)
        if kind:
            hits.append((number, kind))
    return hits


# ---- bytes: text in any encoding, binary files, archives ----------------------------------

_BOMS = [
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
]
_ASCII_RUN = re.compile(rb"[\x20-\x7e\t]{8,}")
_UTF16LE_RUN = re.compile(rb"(?:[\x20-\x7e\t]\x00){8,}")


def decode_text(data: bytes) -> str | None:
    """The text in `data`, or None when it is binary (see the module docstring)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace")
    if b"\x00" in data:
        sample = data[:4096]
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        half = max(len(sample) // 2, 1)
        if odd > 0.4 * half and even < 0.05 * half:
            return data.decode("utf-16-le", errors="replace")
        if even > 0.4 * half and odd < 0.05 * half:
            return data.decode("utf-16-be", errors="replace")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # every byte is a character: a Windows-1252 or Latin-1 file is read, not skipped


def _binary_lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(line number, text) of each printable run in a binary file; the line counts the newline bytes before it."""
    for pattern, codec in ((_ASCII_RUN, "ascii"), (_UTF16LE_RUN, "utf-16-le")):
        line, counted = 1, 0  # newlines counted up to `counted`: one pass over the file, not one per run
        for match in pattern.finditer(data):
            line += data.count(b"\n", counted, match.start())
            counted = match.start()
            yield line, match.group().decode(codec, errors="replace")


def scan_bytes(data: bytes, where: str, *, depth: int = 0) -> Hit | None:
    """The first hit in a file's bytes (an archive's members included), or None."""
    if data[:4] == b"PK\x03\x04" and depth < ARCHIVE_DEPTH:
        hit = scan_archive_bytes(data, where, depth=depth)
        if hit:
            return hit
    text = decode_text(data)
    if text is not None:
        found = find_credentials(text, where)
        return Hit(where, *found[0]) if found else None
    for number, run in _binary_lines(data):
        if ALLOW_MARKER not in run:
            kind = _line_kind(run, config_file=False)
            if kind:
                return Hit(where, number, kind)
    return None


def scan_archive_bytes(data: bytes, where: str, *, depth: int = 0) -> Hit | None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return None  # not really a zip: scanned as bytes by the caller
    with archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            hit = scan_bytes(archive.read(member), f"{where}!{member.filename}", depth=depth + 1)
            if hit:
                return hit
    return None


def scan_archive(path: Path) -> Hit | None:
    """The first hit among a built wheel's or egg's members, or None."""
    return scan_bytes(path.read_bytes(), path.name)


def scan_for_credentials(source_dir: Path) -> list[SourceItem]:
    """Raise UserInputError at the first file that would upload a credential; else the files
    scanned, to send exactly those bytes (a file edited after the scan is not sent unscanned)."""
    items = collect_source(source_dir)
    refuse_hits(scan_bytes(item.content, f"{source_dir.name}/{item.local_rel}") for item in items)
    return items


def refuse_hits(hits: Iterable[Hit | None]) -> None:
    for hit in hits:
        if hit:
            raise UserInputError(f"{hit.where} line {hit.line} looks like a {hit.kind}; nothing was uploaded", HINT)


def refuse_tracked_dotenv(project_dir: Path) -> None:
    try:
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", ".env"], cwd=project_dir, capture_output=True, check=False
        ).returncode == 0
    except OSError:
        return
    if tracked:
        raise UserInputError(
            ".env is tracked by git and may hold a token",
            "run git rm --cached .env, keep it in .gitignore, and rotate any token it held",
        )
