#!/usr/bin/env python3
"""The report of `checker check --json` as Markdown, for a CI job's summary.

    summary.py result.json           the report: score, then each criterion
    summary.py --score result.json   the score alone, as passed/total
"""
import json
import sys


def main(args):
    score_only = args[:1] == ["--score"]
    try:
        with open(args[-1]) as f:
            report = json.load(f)
    except (OSError, ValueError):
        # The checker stops before grading on a usage error or a missing crate,
        # and says why on stderr, in the job's log.
        if score_only:
            print("none")
        else:
            print("## kvlab: no report\n")
            print("The checker stopped before grading anything (a missing lesson crate, "
                  "say); its message is in the job's log.")
        return
    score = f"{report['passed']}/{report['total']}"
    if score_only:
        print(score)
        return
    print(f"## kvlab {report['lesson']} ({report['title']}): {score}")
    print()
    print(f"Graded: {report['graded']}, seed {report['seed']}.")
    if report.get("build_error"):
        print("\nThe crate did not build:\n\n```\n" + report["build_error"] + "\n```")
    if report.get("refused"):
        print("\nThe crate was refused: " + report["refused"])
    print()
    print("| status | criterion | evidence |")
    print("|---|---|---|")
    for c in report["criteria"]:
        evidence = ""
        if c["status"] not in ("pass", "not-run"):
            parts = [f"expected: {c.get('expected') or ''}", f"seen: {c.get('seen') or ''}"]
            evidence = "; ".join(p for p in parts if not p.endswith(": "))
        cell = evidence.replace("|", "\\|").replace("\n", " ")
        print(f"| {c['status']} | `{c['id']}` {c['title']} | {cell} |")


if __name__ == "__main__":
    main(sys.argv[1:])
