"""What a run leaves behind for people and CI systems: JUnit, the HTML report and notebook HTML.
May import backends/ (value types), console/ (redaction; Console for the CI system's lines) and the top-level value
modules (buildinfo: which CI system runs us).
"""
