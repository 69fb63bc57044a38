#!/usr/bin/python3
"""Applies every patch the unit suite produced with python3-jsonpatch, an
independent RFC 6902 implementation, and compares the result with the object
the engine said the patch yields."""
import json
import sys

import jsonpatch


def main(path):
    count = 0
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            rec = json.loads(line)
            patched = jsonpatch.JsonPatch(rec["patch"]).apply(rec["original"])
            if patched != rec["expected"]:
                print(f"{path}:{lineno}: patch does not yield the expected object")
                print("  patch:   ", json.dumps(rec["patch"]))
                print("  got:     ", json.dumps(patched, sort_keys=True))
                print("  expected:", json.dumps(rec["expected"], sort_keys=True))
                return 1
            count += 1
    if count == 0:
        print("no patches were logged: the unit suite did not run")
        return 1
    print(f"verify_patches: {count} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
