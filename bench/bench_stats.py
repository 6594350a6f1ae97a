"""Statistics and the markdown table of bench/harness_overhead.sh and bench/acp_vs_acpx.sh.

Imported by the Python the two scripts embed (bench-common.sh's bench_py puts this directory on
the module path).
"""
import json


def quantile(v, q):
    """The q-quantile of v, interpolated linearly between the nearest ranks."""
    v = sorted(v)
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def stats(v):
    """Median, min and p90 of v, rounded to 0.1."""
    return {"median": round(quantile(v, 0.5), 1), "min": round(min(v), 1),
            "p90": round(quantile(v, 0.9), 1)}


def cell(s):
    """A table cell for a stats() result: `median (min–p90)`, `–` for none."""
    if not s:
        return "–"
    return f"{s['median']:.1f} ({s['min']:.1f}–{s['p90']:.1f})"


def print_table(results, caption, header, row):
    """Prints the markdown table of the JSON lines in the file `results`: a blank line,
    caption(first row), a blank line, then the columns `header` and a line of cells row(r) per
    JSON line. Prints nothing when there are none. Returns the rows."""
    rows = [json.loads(line) for line in open(results) if line.strip()]
    if not rows:
        return rows
    print()
    print(caption(rows[0]))
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(row(r)) + " |")
    return rows
