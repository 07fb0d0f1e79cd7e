#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Validate JSON files against doc/xfrm-steer.schema.json (Debian's
python3-jsonschema). Usage: tests/schema-check.py [--expect-invalid] FILE...
Prints one line per file; exits 1 if any file is not as expected."""
import json
import os
import sys

import jsonschema

schema_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "doc",
                           "xfrm-steer.schema.json")
with open(schema_path) as f:
    schema = json.load(f)
cls = jsonschema.Draft202012Validator
cls.check_schema(schema)
validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

args = sys.argv[1:]
want_valid = True
if args and args[0] == "--expect-invalid":
    want_valid = False
    args = args[1:]
failed = 0
for path in args:
    try:
        with open(path) as f:
            doc = json.load(f)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    except ValueError as e:  # not JSON at all: invalid for the schema too
        errors = [e]
    where = lambda e: "/".join(str(p) for p in getattr(e, "absolute_path", [])) or "(top)"
    if not errors:
        print(("ok: " if want_valid else "FAIL: schema accepts ") + path)
        failed += not want_valid
    else:
        e = errors[0]
        msg = "%s: %s: %s" % (path, where(e), getattr(e, "message", str(e)))
        print(("FAIL: schema refuses " if want_valid else "ok: refused ") + msg)
        failed += want_valid
sys.exit(1 if failed else 0)
