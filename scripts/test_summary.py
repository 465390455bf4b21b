#!/usr/bin/env python3
"""The closing summary of scripts/test.sh: per ctest run (a JUnit file written by --output-junit), how
many tests passed, failed and were skipped, and why each group was skipped, so "100% tests passed"
cannot hide skips. Usage: test_summary.py LABEL=JUNIT.xml ..."""
import collections
import re
import sys
import xml.etree.ElementTree as ET


def skip_reason(output):
    """The line after GoogleTest's "file:line: Skipped" marker, or what ctest says."""
    match = re.search(r": Skipped\n(.+)", output or "")
    if match:
        return match.group(1).strip()
    return "skipped by ctest (no reason printed)"


def main(args):
    status = 0
    for arg in args:
        label, path = arg.split("=", 1)
        cases = ET.parse(path).getroot().iter("testcase")
        counts = collections.Counter()
        reasons = collections.Counter()
        for case in cases:
            if case.get("status") == "notrun" or case.find("skipped") is not None:
                counts["skipped"] += 1
                reasons[skip_reason(case.findtext("system-out"))] += 1
            elif case.find("failure") is not None or case.get("status") == "fail":
                counts["failed"] += 1
            else:
                counts["passed"] += 1
        total = sum(counts.values())
        print(f"{label}: {total} tests: {counts['passed']} passed, {counts['failed']} failed, "
              f"{counts['skipped']} skipped")
        for reason, n in reasons.most_common():
            print(f"  {n} skipped: {reason}")
        status |= counts["failed"] > 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
