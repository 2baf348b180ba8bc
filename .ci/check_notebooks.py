#!/usr/bin/python3
"""Checks executed notebooks: no error output anywhere, and at least one PNG in every notebook
that draws figures. Usage: check_notebooks.py EXECUTED.ipynb..."""
import json
import sys

failed = False
for path in sys.argv[1:]:
    nb = json.load(open(path))
    pngs, errors = 0, []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append("cell %d: %s: %s" % (i, out.get("ename"), out.get("evalue")))
            if "image/png" in out.get("data", {}):
                pngs += 1
    src = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    draws = "viz." in src or "Figures()" in src
    print("%s: %d PNG outputs, %d errors" % (path, pngs, len(errors)))
    for e in errors:
        print("  " + e)
    if errors or (draws and pngs == 0):
        failed = True
sys.exit(1 if failed else 0)
