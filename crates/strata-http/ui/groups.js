// Consumer groups (list; one group with members, assignment, lag per partition as a
// bar chart, and offset resets: a dry run first, then apply) and schema registry
// subjects with their versions.
"use strict";

const GROUPS_PAGE = 50;

function groupHash(g) { return "#/groups/" + encodeURIComponent(g); }

function renderGroups(main, _m, params) {
  const search = params.get("search") || "";
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const nav = (s, o) => go("#/groups?" + new URLSearchParams({ search: s, offset: String(o) }));
  const input = h("input", { id: "group-search", testid: "group-search", type: "search",
    placeholder: "Search groups", value: search });
  let debounce = null;
  input.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => nav(input.value, 0), 300);
  });
  const list = h("div", { id: "group-list" });
  main.append(h("h1", {}, "Consumer groups"), h("div", { class: "toolbar" }, input), list,
    h("p", { class: "muted" }, "Groups coordinated by this broker."));
  const refresh = () => attempt(async () => {
    const q = new URLSearchParams({ search, offset: String(offset), limit: String(GROUPS_PAGE) });
    const page = await api("GET", "/groups?" + q);
    list.replaceChildren(
      table("group-table", ["Group", "State", "Members", "Protocol"],
        page.groups.map((g) => [
          h("a", { href: groupHash(g.group), testid: "group-link-" + g.group }, g.group),
          g.state, String(g.members), [g.protocol_type, g.protocol].filter(Boolean).join(" / ") || "-",
        ]),
        (i) => ({ testid: "group-row-" + page.groups[i].group })),
      pager("group", page, (o) => nav(search, o)),
      page.loading ? h("p", { class: "muted" }, "Some groups are still loading.") : "");
  });
  refresh();
  every(3000, refresh);
}

// Lag per partition as horizontal bars (at most 50 bars; the table has them all).
function drawLag(canvas, partitions) {
  const rows = partitions.filter((p) => p.lag !== null).slice(0, 50);
  canvas.height = Math.max(40, rows.length * 18 + 10);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const max = Math.max(1, ...rows.map((p) => p.lag));
  const left = 160, width = canvas.width - left - 70;
  ctx.font = "11px sans-serif";
  rows.forEach((p, i) => {
    const y = 5 + i * 18;
    ctx.fillStyle = "#444";
    ctx.fillText(`${p.topic}-${p.partition}`.slice(0, 24), 4, y + 11);
    ctx.fillStyle = p.lag > 0 ? "#d6732b" : "#2ba84a";
    ctx.fillRect(left, y, Math.max(2, (p.lag / max) * width), 13);
    ctx.fillStyle = "#444";
    ctx.fillText(String(p.lag), left + Math.max(2, (p.lag / max) * width) + 4, y + 11);
  });
}

function renderGroup(main, [group]) {
  const head = h("div", { id: "group-head" });
  const members = h("div", { id: "group-members" });
  const lag = h("div", { id: "group-lag" });
  const canvas = h("canvas", { id: "lag-chart", testid: "lag-chart", width: 640, height: 40 });
  main.append(h("p", {}, h("a", { href: "#/groups" }, "‹ Consumer groups")),
    h("h1", { id: "group-name", testid: "group-name" }, group), head,
    h("h2", {}, "Members"), members, h("h2", {}, "Lag"), canvas, lag);
  let topics = [];
  const refresh = () => attempt(async () => {
    const g = await api("GET", "/groups/" + encodeURIComponent(group));
    head.replaceChildren(h("div", { class: "cards" },
      h("div", { class: "card stat" }, h("div", { class: "label" }, "State"),
        h("div", { id: "group-state", testid: "group-state", class: "value" }, g.state)),
      h("div", { class: "card stat" }, h("div", { class: "label" }, "Members"),
        h("div", { id: "group-member-count", class: "value" }, String(g.members.length))),
      h("div", { class: "card stat" }, h("div", { class: "label" }, "Total lag"),
        h("div", { id: "group-total-lag", testid: "group-total-lag", class: "value" }, String(g.total_lag)))));
    members.replaceChildren(g.members.length === 0
      ? h("p", { class: "muted", id: "no-members" }, "No active members.")
      : table("member-table", ["Member", "Client", "Host", "Assignment"], g.members.map((m) => [
        m.member_id, m.client_id, m.client_host,
        m.assignment.map((a) => `${a.topic}: ${a.partitions.join(", ")}`).join("; ") || "-",
      ])));
    lag.replaceChildren(table("lag-table",
      ["Topic", "Partition", "Committed", "Log end", "Lag", "Member"],
      g.partitions.map((p) => [p.topic, String(p.partition), dash(p.committed), dash(p.log_end),
        h("span", { testid: `lag-${p.topic}-${p.partition}` }, dash(p.lag)), dash(p.member_id)]),
      (i) => ({ testid: `lag-row-${g.partitions[i].topic}-${g.partitions[i].partition}` })));
    drawLag(canvas, g.partitions);
    const seen = [...new Set(g.partitions.map((p) => p.topic))];
    if (seen.join() !== topics.join()) {
      topics = seen;
      $("reset-topics").replaceChildren(...topics.map((t) => h("option", { value: t })));
      if (!$("reset-topic").value && topics.length) $("reset-topic").value = topics[0];
    }
  });
  if (!UI.readOnly) main.append(resetForm(group, refresh));
  else main.append(h("datalist", { id: "reset-topics" }), h("input", { id: "reset-topic", type: "hidden" }));
  refresh();
  every(2000, refresh);
}

function resetForm(group, refresh) {
  const topic = h("input", { id: "reset-topic", testid: "reset-topic", list: "reset-topics", required: true });
  const partitions = h("input", { id: "reset-partitions", testid: "reset-partitions", placeholder: "all" });
  const to = h("select", { id: "reset-to", testid: "reset-to" },
    ["earliest", "latest", "offset", "timestamp"].map((x) => h("option", { value: x }, x)));
  const value = h("input", { id: "reset-value", testid: "reset-value", placeholder: "offset or ms" });
  const dry = h("button", { id: "reset-dry-run", testid: "reset-dry-run", type: "button" }, "Dry run");
  const apply = h("button", { id: "reset-apply", testid: "reset-apply", type: "button", class: "danger",
    disabled: true }, "Apply");
  const out = h("div", { id: "reset-result", testid: "reset-result" });
  let planned = null; // the request the dry run answered; Apply sends exactly it
  const request = () => {
    const body = { topic: topic.value.trim(), to: to.value, dry_run: true };
    if (to.value === "offset" || to.value === "timestamp") body.to += ":" + value.value.trim();
    if (partitions.value.trim()) {
      body.partitions = partitions.value.split(",").map((x) => parseInt(x.trim(), 10));
    }
    return body;
  };
  const invalidate = () => { planned = null; apply.disabled = true; };
  for (const el of [topic, partitions, to, value]) el.addEventListener("input", invalidate);
  to.addEventListener("change", invalidate);
  const send = async (body, label) => {
    const r = await api("POST", `/groups/${encodeURIComponent(group)}/reset-offsets`, body);
    out.replaceChildren(
      h("p", { id: "reset-status", testid: "reset-status" },
        r.applied ? `Applied: offsets of ${r.topic} reset.` : `${label}: nothing changed yet.`),
      table("reset-plan", ["Partition", "Current", "New"],
        r.partitions.map((p) => [String(p.partition), dash(p.current),
          h("span", { testid: "reset-target-" + p.partition }, String(p.target))])));
    return r;
  };
  dry.addEventListener("click", () => attempt(async () => {
    const body = request();
    await send(body, "Dry run");
    planned = body;
    apply.disabled = false;
  }));
  apply.addEventListener("click", () => attempt(async () => {
    if (!planned) return;
    if (!(await confirmDialog(`Reset the offsets of group "${group}" on ${planned.topic}?`))) return;
    await send(Object.assign({}, planned, { dry_run: false }), "Apply");
    invalidate();
    refresh();
  }));
  return h("div", { class: "card", id: "reset-form" },
    h("h2", {}, "Reset offsets"),
    h("p", { class: "muted" }, "Only while the group has no active members. Run a dry run first, then apply it."),
    h("datalist", { id: "reset-topics" }),
    h("label", {}, "Topic ", topic), h("label", {}, "Partitions ", partitions),
    h("label", {}, "To ", to), value, dry, apply, out);
}

function renderSchemas(main, _m, params) {
  const search = params.get("search") || "";
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const nav = (s, o) => go("#/schemas?" + new URLSearchParams({ search: s, offset: String(o) }));
  const input = h("input", { id: "schema-search", type: "search", placeholder: "Search subjects", value: search });
  input.addEventListener("change", () => nav(input.value, 0));
  const list = h("div", { id: "schema-list" });
  main.append(h("h1", {}, "Schemas"), h("div", { class: "toolbar" }, input), list);
  attempt(async () => {
    const page = await api("GET", "/schemas?" + new URLSearchParams({ search, offset: String(offset), limit: "50" }));
    list.replaceChildren(
      table("schema-table", ["Subject", "Latest version", "Id", "Type", "Versions"],
        page.subjects.map((s) => [
          h("a", { href: "#/schemas/" + encodeURIComponent(s.subject), testid: "schema-link-" + s.subject }, s.subject),
          String(s.latest_version), String(s.id), s.schema_type, String(s.versions)]),
        (i) => ({ testid: "schema-row-" + page.subjects[i].subject })),
      pager("schema", page, (o) => nav(search, o)));
    if (page.total === 0) list.append(h("p", { class: "muted" }, "No subjects."));
  });
}

function renderSubject(main, [subject]) {
  const box = h("div", { id: "subject-versions" });
  main.append(h("p", {}, h("a", { href: "#/schemas" }, "‹ Schemas")),
    h("h1", { id: "subject-name" }, subject), box);
  attempt(async () => {
    const s = await api("GET", "/schemas/" + encodeURIComponent(subject));
    const pretty = (text) => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; } };
    box.replaceChildren(h("p", { class: "muted" }, "Compatibility: " + s.compatibility),
      ...s.versions.map((v) => h("div", { class: "card", testid: "schema-version-" + v.version },
        h("h3", {}, `Version ${v.version} · id ${v.id} · ${v.schema_type}`),
        v.references.length ? h("p", { class: "muted" }, "References: " + v.references.join("; ")) : "",
        h("pre", { class: "payload" }, pretty(v.schema)))));
  });
}

UI.routes.push([/^\/groups$/, renderGroups]);
UI.routes.push([/^\/groups\/(.+)$/, renderGroup]);
UI.routes.push([/^\/schemas$/, renderSchemas]);
UI.routes.push([/^\/schemas\/(.+)$/, renderSubject]);
