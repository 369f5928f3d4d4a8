"""A scripted stand-in for the leanprover-community REPL, for the lean verifier's tests.

Speaks the REPL's protocol (JSON commands separated by blank lines on stdin; each response a JSON object,
pretty-printed over several lines like the real REPL, followed by a blank line). Responses come from a
transcript file (``FAKE_REPL_SCRIPT``): a JSON list of rules ``{"match": substring, "response": {...},
"sleep": seconds, "crash": true, "print_axioms": [...]}``, first match wins. Every command is appended,
with this process's pid, to ``FAKE_REPL_LOG`` so tests can see pooling and recycling.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time


def main() -> int:
    rules = json.load(open(os.environ["FAKE_REPL_SCRIPT"])) if os.environ.get("FAKE_REPL_SCRIPT") else []
    log_path = os.environ.get("FAKE_REPL_LOG")
    if os.environ.get("FAKE_REPL_BALLAST_MB"):  # pretend to be a large process (memory recycling test)
        ballast = bytearray(int(os.environ["FAKE_REPL_BALLAST_MB"]) * 1024 * 1024)
        ballast[::4096] = b"x" * len(ballast[::4096])
    env = 0
    buf = ""
    for line in sys.stdin:
        if line.strip():
            buf += line
            continue
        if not buf.strip():
            continue
        cmd_text, buf = buf, ""
        try:
            cmd = json.loads(cmd_text)
        except ValueError:
            out = {"message": "Could not parse JSON"}
            sys.stdout.write(json.dumps(out) + "\n\n")
            sys.stdout.flush()
            continue
        if log_path:
            with open(log_path, "a") as f:
                f.write(json.dumps({"pid": os.getpid(), "cmd": cmd}) + "\n")
        if "env" in cmd and cmd["env"] is not None and cmd["env"] > env:
            out = {"message": "Unknown environment."}
        else:
            out = respond(cmd.get("cmd", ""), rules)
            if out is None:  # crash rule
                return 3
            env += 1
            out.setdefault("env", env)
        sys.stdout.write(json.dumps(out, indent=2) + "\n\n")
        sys.stdout.flush()
    return 0


def respond(text: str, rules: list[dict]) -> dict | None:
    if text.startswith("import"):
        return {}
    for rule in rules:
        if rule.get("match", "") in text:
            if rule.get("sleep"):
                time.sleep(float(rule["sleep"]))
            if rule.get("crash"):
                return None
            out = json.loads(json.dumps(rule.get("response", {})))
            axioms = rule.get("print_axioms")
            if axioms is not None:
                out.setdefault("messages", []).append(axiom_message(text, axioms))
            return out
    return {"messages": [axiom_message(text, ["propext"])]}


def axiom_message(text: str, axioms: list[str]) -> dict:
    m = re.search(r"#print axioms (\S+)", text)
    name = m.group(1) if m else "?"
    line = text[:m.start()].count("\n") + 1 if m else 1
    data = (f"'{name}' depends on axioms: [{', '.join(axioms)}]" if axioms
            else f"'{name}' does not depend on any axioms")
    return {"severity": "info", "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 14},
            "data": data}


if __name__ == "__main__":
    sys.exit(main())
