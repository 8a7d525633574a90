"""The e2e checks' one reporting helper: each check prints ok or FAIL (with its detail), and the
failures are collected for the script to end with. Scripts in this folder import it by name (Python
puts a script's own folder first on sys.path)."""

failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f"\n     {detail}"))
    if not cond:
        failures.append(name)
