"""Parses FHIR JSON files with fhir.resources' R4B models (pydantic).

Each file is parsed as its resourceType and, for a Bundle, each entry's
resource on its own as well. Prints every error and exits 1 on any.
Used by scripts/validate-fhir.

    python3 e2e/validators/fhir_validate.py FILE...
"""
import json
import sys
from importlib.metadata import version

from fhir.resources.R4B import get_fhir_model_class

print(f"fhir.resources {version('fhir.resources')} (R4B models, pydantic {version('pydantic')})")

failed = 0
checked = 0


def check(label, resource):
    global failed, checked
    checked += 1
    try:
        model = get_fhir_model_class(resource["resourceType"])
        model.model_validate(resource)
        print(f"ok   {label}")
    except Exception as e:  # noqa: BLE001 - every failure is reported
        failed += 1
        print(f"FAIL {label}\n  {e}")


if len(sys.argv) < 2:
    print("usage: fhir_validate.py FILE...", file=sys.stderr)
    sys.exit(2)
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        failed += 1
        print(f"FAIL {path}: {e}")
        continue
    check(f"{path} ({doc.get('resourceType')})", doc)
    if doc.get("resourceType") == "Bundle":
        for i, entry in enumerate(doc.get("entry", [])):
            res = entry.get("resource", {})
            check(f"{path} entry[{i}] {res.get('resourceType')} {entry.get('fullUrl')}", res)

print(f"fhir.resources: {checked - failed} of {checked} resources valid")
sys.exit(0 if failed == 0 else 1)
