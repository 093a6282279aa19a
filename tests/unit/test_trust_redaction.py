"""Issue 11 item 3: every form of a secret is redacted, centrally, so every caller benefits.

The forms a secret takes on its way into a message: itself, stripped of surrounding whitespace,
with its whitespace collapsed (an error's one line), inside `repr`, `ascii`, a bytes repr,
`json.dumps` (ASCII or not), URL-encoded (`quote`, `quote_plus`), HTML/XML-escaped.
"""
from __future__ import annotations

import html
import io
import json
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bricktasks.cli.invocation import TaskOutput
from bricktasks.console.console import Console
from bricktasks.console.redaction import REDACTED, redact, redact_data, secret_forms
from bricktasks.errors import ConfigError

TOKEN = "dapi" + "c0ffee42" * 4

ENCODERS = {
    "raw": lambda s: s,
    "stripped": str.strip,
    "collapsed": lambda s: " ".join(s.split()),
    "repr": repr,
    "ascii": ascii,
    "bytes-repr": lambda s: repr(s.encode()),
    "json": json.dumps,
    "json-unicode": lambda s: json.dumps(s, ensure_ascii=False),
    "quote": urllib.parse.quote,
    "quote-safe-none": lambda s: urllib.parse.quote(s, safe=""),
    "quote_plus": urllib.parse.quote_plus,
    "quote-lowercase-hex": lambda s: urllib.parse.quote(s, safe="").lower(),
    "html": html.escape,
    "html-no-quotes": lambda s: html.escape(s, quote=False),
    "json-in-json": lambda s: json.dumps(json.dumps(s)),
}

SECRETS = [
    TOKEN,
    TOKEN + "\n",  # a token file read with its trailing newline
    " " + TOKEN + "\t",
    'pa"ss\\word',
    "pässwörd-ünïcode",
    "tok'en\"both\\",
    "new\nline-inside",
    "sp ace in side",
    "émoji-🔑-key",
]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_every_encoded_form_is_redacted(secret, encoding):
    shown = ENCODERS[encoding](secret)
    text = redact(f"error: Invalid header value {shown}; retry", [secret])
    assert text.startswith("error: Invalid header value ") and text.endswith("; retry")
    assert REDACTED in text
    for form in secret_forms(secret):
        assert form not in text, (encoding, form, text)
    assert secret.strip() not in text


def test_the_requests_error_for_a_token_with_a_newline_is_redacted():
    """The exact line `DATABRICKS_TOKEN=$'tok\\n'` used to print: a bytes repr of the header."""
    secret = TOKEN + "\n"
    message = f"Invalid header value {('Bearer ' + secret).encode()!r}"
    assert redact(message, [secret]) == "Invalid header value b'Bearer [REDACTED]'"


def test_an_errors_one_line_collapses_whitespace_and_is_still_redacted():
    secret = "first half\n second half"
    line = ConfigError(f"bad value {secret}").one_line()
    assert secret not in line  # one_line() collapsed the whitespace: the raw form no longer matches
    assert redact(line, [secret]) == "bad value [REDACTED]"


def test_short_values_are_not_redacted():
    """A one-letter 'secret' (or a stripped form that short) would shred every message."""
    assert redact("a b c", ["a", " b "]) == "a b c"
    assert secret_forms("ab\n") == []


def test_a_longer_secret_is_redacted_whole_before_one_it_contains():
    assert redact("x dapi1234-extra x", ["dapi1234", "dapi1234-extra"]) == f"x {REDACTED} x"


def test_redact_data_redacts_keys_values_and_objects_json_would_stringify():
    class Shown:
        def __str__(self) -> str:
            return f"object holding {TOKEN}"

    data = redact_data({TOKEN: [f"a {TOKEN}", 3, None, True, Shown()], "path": f"/x/{urllib.parse.quote(TOKEN)}"}, [TOKEN])
    assert data == {REDACTED: [f"a {REDACTED}", 3, None, True, f"object holding {REDACTED}"], "path": f"/x/{REDACTED}"}


@pytest.mark.parametrize("secret", SECRETS)
def test_the_json_summary_holds_no_form_of_the_secret(secret):
    stdout, stderr = io.StringIO(), io.StringIO()
    out = TaskOutput("checkout", json_summary=True, stdout=stdout, stderr=stderr)
    out.console([secret])
    out.record(url=f"https://x/?t={urllib.parse.quote_plus(secret)}", shown=repr(secret), body=json.dumps({"t": secret}))
    out.fail(f"refused {secret!r}")
    out.finish(2, f"refused {secret!r}")
    data = json.loads(stdout.getvalue())
    assert data["url"] == f"https://x/?t={REDACTED}" and data["body"] == f'{{"t": "{REDACTED}"}}'
    printed = stdout.getvalue() + stderr.getvalue()
    for form in [*secret_forms(secret), *(encode(secret)[1:-1] for encode in (repr, json.dumps))]:
        assert form not in printed, form


def test_console_lines_warnings_and_errors_hold_no_form_of_the_secret():
    secret = TOKEN + "\n"
    stream = io.StringIO()
    console = Console(secrets=[secret], stream=stream, error_stream=stream, terminal=False)
    console.info(f"header {('Bearer ' + secret).encode()!r}")
    console.warn(f"token {TOKEN} (stripped)")
    console.error(f"url https://h/?token={urllib.parse.quote(secret)}")
    assert TOKEN not in stream.getvalue() and stream.getvalue().count(REDACTED) == 3


# ---- properties -------------------------------------------------------------------------------

# text around the secret: letters, digits and punctuation that are not part of REDACTED
_AROUND = st.text(alphabet=st.sampled_from("xyz0189 :/=,.;-"), max_size=12)
# (a secret holding a bracket or found inside "[REDACTED]" itself could reappear around the marker)
_SECRET = st.text(min_size=4, max_size=24).filter(
    lambda s: len(" ".join(s.split())) >= 4 and not {"[", "]"} & set(s) and s.strip() not in REDACTED
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(secret=_SECRET, encoding=st.sampled_from(sorted(ENCODERS)), before=_AROUND, after=_AROUND)
def test_no_encoded_form_survives_redaction(secret, encoding, before, after):
    text = redact(before + ENCODERS[encoding](secret) + after, [secret])
    assert secret.strip() not in text
    assert REDACTED in text


@hypothesis_settings(max_examples=200, deadline=None)
@given(secret=_SECRET)
def test_redacted_json_stays_valid_and_free_of_the_secret(secret):
    stdout = io.StringIO()
    out = TaskOutput("ci", json_summary=True, stdout=stdout, stderr=io.StringIO())
    out.console([secret])
    out.record(value=secret, escaped=json.dumps(secret), quoted=urllib.parse.quote(secret), shown=repr(secret))
    out.finish(1, f"failed with {secret}")
    data = json.loads(stdout.getvalue())  # still one valid object
    for name in ("value", "escaped", "quoted", "shown", "error"):
        assert secret.strip() not in data[name] and REDACTED in data[name], name
