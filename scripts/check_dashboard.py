#!/usr/bin/env python3
"""Checks deploy/grafana/strata.json (and the alert rules' expressions) against the metrics
reference in deploy/README.md.

    python3 scripts/check_dashboard.py [DASHBOARD] [--readme deploy/README.md]
                                       [--rules deploy/prometheus/alerts.yml]
                                       [--promql-rules OUT.yml]

The allowed metric names are the README's list under "## Metrics", one metric a line as
"- `name{label,...}` type: meaning"; a histogram allows name_bucket (with `le`), name_sum
and name_count, never the bare name. Every PromQL expression (panel targets, template
variable queries, and with --rules the rules' `expr:`) may only select those names, only
match on their labels (plus instance and job), and only call PromQL functions. The dashboard
must also have the datasource / instance / topic / group variables, unique panel ids, panels
on the ${datasource} variable and no two panels on the same grid cells.

With --promql-rules it also writes every dashboard expression, its Grafana variables
replaced ($__rate_interval by 5m, $var by .*), as a recording rule to OUT.yml, for
`promtool check rules` to parse with Prometheus' own PromQL parser.

Exits 1 and lists every problem if anything is wrong; standard library only.
"""
import argparse
import json
import re
import sys

ROOT_LABELS = {"instance", "job"}

FUNCTIONS = set("""
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
days_in_month deg delta deriv exp floor histogram_avg histogram_count histogram_fraction
histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta
increase irate label_join label_replace last_over_time ln log10 log2 mad_over_time
max_over_time min_over_time minute month pi predict_linear present_over_time
quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh
time timestamp vector year start end
""".split())
AGGREGATIONS = set("sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio".split())
KEYWORDS = set("and or unless bool offset inf nan atan2".split())
GROUPING = set("by without on ignoring group_left group_right".split())

TOKEN = re.compile(
    r"""(?P<ws>\s+|\#[^\n]*)
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
      | (?P<var>\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\])
      | (?P<range>\[[^\]]*\])
      | (?P<dur>\d+(?:ms|s|m|h|d|w|y)(?:\d+(?:ms|s|m|h|d|w|y))*(?![\w.]))
      | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<ident>[A-Za-z_:][\w:]*)
      | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(),{}@])
    """,
    re.X,
)


class Metric:
    def __init__(self, name, labels, kind):
        self.name, self.labels, self.kind = name, labels, kind


def read_reference(readme):
    """{series name: allowed labels} from the README's "## Metrics" section."""
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"^## Metrics\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        sys.exit(f"{readme}: no '## Metrics' section")
    series, metrics = {}, []
    for line in m.group(1).splitlines():
        if not line.startswith("- `"):
            continue
        lm = re.match(r"- `([A-Za-z_:][\w:]*)(?:\{([\w,]*)\})?` (counter|gauge|histogram): \S", line)
        if not lm:
            sys.exit(f"{readme}: metric line not understood: {line!r}")
        name, labels, kind = lm.group(1), set(filter(None, (lm.group(2) or "").split(","))), lm.group(3)
        if kind == "counter" and not name.endswith("_total"):
            sys.exit(f"{readme}: counter {name} does not end in _total")
        metrics.append(Metric(name, labels, kind))
        labels |= ROOT_LABELS
        if kind == "histogram":
            series[name + "_bucket"] = labels | {"le"}
            series[name + "_sum"] = labels
            series[name + "_count"] = labels
        else:
            series[name] = labels
    if not metrics:
        sys.exit(f"{readme}: no metrics listed under '## Metrics'")
    return series, metrics


def tokens(expr):
    pos = 0
    out = []
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def grafana_to_promql(expr):
    """The expression with Grafana's variables replaced by values PromQL accepts."""
    expr = re.sub(r"\$(?:__rate_interval|__interval|__range)\b|\$\{__(?:rate_interval|interval|range)\}", "5m", expr)
    return re.sub(r"\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]", ".*", expr)


def check_expr(expr, series, used):
    """Problems with one PromQL expression (empty list if none)."""
    problems = []
    try:
        toks = tokens(expr)
    except ValueError as e:
        return [str(e)]
    depth = 0
    for kind, text in toks:
        if text in "({":
            depth += 1
        elif text in ")}":
            depth -= 1
            if depth < 0:
                return ["unbalanced parentheses or braces"]
    if depth:
        return ["unbalanced parentheses or braces"]
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "ident" and text in GROUPING:
            if nxt == "(":  # a label list, not an expression
                j = toks.index(("op", ")"), i)
                i = j + 1
                continue
        elif kind == "ident" and text in AGGREGATIONS:
            pass
        elif kind == "ident" and nxt == "(":
            if text not in FUNCTIONS:
                problems.append(f"unknown function {text}()")
        elif kind == "ident" and text.lower() in KEYWORDS:
            pass
        elif kind == "ident" or (kind == "op" and text == "{"):
            name = text if kind == "ident" else None
            j = i + 1 if kind == "ident" else i
            matchers = []
            if j < len(toks) and toks[j][1] == "{":
                k = toks.index(("op", "}"), j)
                inner = toks[j + 1:k]
                for n in range(0, len(inner), 4):
                    group = inner[n:n + 3]
                    if len(group) < 3 or group[0][0] != "ident" or group[2][0] not in ("str", "var"):
                        problems.append(f"label matchers not understood: {expr!r}")
                        break
                    matchers.append(group[0][1])
                i = k
            if name is None or "__name__" in matchers:
                problems.append("selector without a literal metric name")
            elif name not in series:
                problems.append(f"metric {name} is not in the README's list")
            else:
                used.add(name)
                for label in matchers:
                    if label not in series[name]:
                        problems.append(f"{name} has no label {label}")
        i += 1
    return problems


def variable_expr(query):
    """The PromQL inside a Grafana Prometheus variable query, or None for label_values(label)."""
    q = query.strip()
    m = re.fullmatch(r"label_values\((.*),\s*\w+\s*\)", q, re.S)
    if m:
        return m.group(1)
    if re.fullmatch(r"label_values\(\s*\w+\s*\)", q):
        return None
    m = re.fullmatch(r"query_result\((.*)\)", q, re.S)
    if m:
        return m.group(1)
    raise ValueError(f"variable query not understood: {q!r}")


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def is_datasource_var(ds):
    uid = ds.get("uid") if isinstance(ds, dict) else ds
    return uid in ("${datasource}", "$datasource")


def check_dashboard(path, series, used, exprs):
    """Problems of the dashboard; appends (where, expr) of every expression to exprs."""
    problems = []
    try:
        dash = json.load(open(path, encoding="utf-8"))
    except OSError as e:
        return [f"cannot read: {e}"]
    except ValueError as e:
        return [f"not valid JSON: {e}"]
    if not isinstance(dash.get("schemaVersion"), int):
        problems.append("no schemaVersion")
    if not dash.get("title") or not dash.get("uid"):
        problems.append("no title or uid")

    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no `datasource` variable of type datasource / prometheus")
    for name in ("instance", "topic", "group"):
        v = variables.get(name)
        if not v or v.get("type") != "query":
            problems.append(f"no `{name}` query variable")
    for name, v in variables.items():
        if v.get("type") != "query":
            continue
        if not is_datasource_var(v.get("datasource")):
            problems.append(f"variable {name}: not on the ${{datasource}} variable")
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        try:
            inner = variable_expr(q)
        except ValueError as e:
            problems.append(f"variable {name}: {e}")
            continue
        if inner is not None:
            exprs.append((f"variable {name}", inner))
            problems += [f"variable {name}: {p}" for p in check_expr(inner, series, used)]

    ids = set()
    cells = {}
    rows_seen = False
    for p in walk_panels(dash.get("panels", [])):
        title = p.get("title", "?")
        pid = p.get("id")
        if pid in ids:
            problems.append(f"panel {title!r}: duplicate id {pid}")
        ids.add(pid)
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] + g["w"] > 24:
            problems.append(f"panel {title!r}: bad gridPos {g}")
        else:
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        problems.append(f"panel {title!r} overlaps {cells[(x, y)]!r}")
                        break
                    cells[(x, y)] = title
                else:
                    continue
                break
        if p.get("type") == "row":
            rows_seen = True
            continue
        if not is_datasource_var(p.get("datasource")):
            problems.append(f"panel {title!r}: datasource is not ${{datasource}}")
        targets = p.get("targets") or []
        if p.get("type") != "text" and not targets:
            problems.append(f"panel {title!r}: no query")
        for t in targets:
            expr = t.get("expr", "")
            if not expr.strip():
                problems.append(f"panel {title!r}: empty expr")
                continue
            if "datasource" in t and not is_datasource_var(t["datasource"]):
                problems.append(f"panel {title!r}: target datasource is not ${{datasource}}")
            exprs.append((f"panel {title!r} {t.get('refId', '')}", expr))
            problems += [f"panel {title!r}: {q}" for q in check_expr(expr, series, used)]
    if not rows_seen:
        problems.append("no rows")
    return problems


def rule_exprs(path):
    """The `expr:` values of a rules file (plain or block scalars), with their line numbers."""
    lines = open(path, encoding="utf-8").read().splitlines()
    out = []
    for n, line in enumerate(lines):
        m = re.match(r"^(\s*)(?:- )?expr:\s*(.*)$", line)
        if not m:
            continue
        indent, rest = len(m.group(1)), m.group(2).strip()
        if rest in ("|", "|-", ">", ">-", ""):
            body = []
            for nxt in lines[n + 1:]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt)
            out.append((n + 1, "\n".join(body)))
        else:
            if rest[:1] in "'\"":
                rest = rest[1:-1]
            out.append((n + 1, rest))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dashboard", nargs="?", default="deploy/grafana/strata.json")
    ap.add_argument("--readme", default="deploy/README.md")
    ap.add_argument("--rules", help="also check the expr: of this Prometheus rules file")
    ap.add_argument("--promql-rules", metavar="OUT", help="write the dashboard's expressions as recording rules to OUT")
    args = ap.parse_args()

    series, metrics = read_reference(args.readme)
    used = set()
    exprs = []
    problems = [f"{args.dashboard}: {p}" for p in check_dashboard(args.dashboard, series, used, exprs)]
    if args.promql_rules:
        with open(args.promql_rules, "w", encoding="utf-8") as out:
            out.write("# generated by scripts/check_dashboard.py from the dashboard's queries\n")
            out.write("groups:\n  - name: dashboard\n    rules:\n")
            for n, (where, expr) in enumerate(exprs):
                out.write(f"      # {where}\n")
                out.write(f"      - record: dashboard:expr_{n}\n")
                out.write(f"        expr: {json.dumps(grafana_to_promql(expr))}\n")
    if args.rules:
        exprs = rule_exprs(args.rules)
        if not exprs:
            problems.append(f"{args.rules}: no expr found")
        for line, expr in exprs:
            problems += [f"{args.rules}:{line}: {p}" for p in check_expr(expr, series, set())]

    unused = [m.name for m in metrics
              if not any(s in used for s in (m.name, m.name + "_bucket", m.name + "_sum", m.name + "_count"))]
    print(f"check_dashboard: {len(metrics)} metrics in {args.readme}, {len(metrics) - len(unused)} used by the dashboard")
    if unused:
        print("  not on the dashboard: " + ", ".join(unused))
    for p in problems:
        print("  FAIL " + p)
    if problems:
        print(f"check_dashboard: {len(problems)} problem(s)")
        return 1
    print("check_dashboard: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
