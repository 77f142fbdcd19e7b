// Topics: the list (server-side search and paging), creation, deletion, and one
// topic's partitions (paged) and configs (with their sources, editable).
"use strict";

const TOPICS_PAGE = 50;
const PARTITIONS_PAGE = 100;

function topicHash(name) { return "#/topics/" + encodeURIComponent(name); }

function renderTopics(main, _m, params) {
  const search = params.get("search") || "";
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const nav = (s, o) => go("#/topics?" + new URLSearchParams({ search: s, offset: String(o) }));
  const input = h("input", { id: "topic-search", testid: "topic-search", type: "search",
    placeholder: "Search topics", value: search });
  let debounce = null;
  input.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => nav(input.value, 0), 300);
  });
  const list = h("div", { id: "topic-list" });
  main.append(h("h1", {}, "Topics"), h("div", { class: "toolbar" }, input), list);
  if (!UI.readOnly) main.append(createForm());
  attempt(async () => {
    const q = new URLSearchParams({ search, offset: String(offset), limit: String(TOPICS_PAGE) });
    const page = await api("GET", "/topics?" + q);
    list.replaceChildren(
      table("topic-table", ["Name", "Partitions", "Replication", "Under-replicated", "Offline", ""],
        page.topics.map((t) => [
          h("a", { href: topicHash(t.name), testid: "topic-link-" + t.name }, t.name),
          String(t.partitions), String(t.replication_factor),
          String(t.under_replicated), String(t.offline),
          UI.readOnly || t.internal ? "" : h("button", {
            type: "button", class: "danger small", testid: "topic-delete-" + t.name,
            onclick: () => deleteTopic(t.name),
          }, "Delete"),
        ]),
        (i) => ({ testid: "topic-row-" + page.topics[i].name })),
      pager("topic", page, (o) => nav(search, o)));
    if (page.total === 0) list.append(h("p", { class: "muted" }, "No topics match."));
  });
}

async function deleteTopic(name) {
  if (!(await confirmDialog(`Delete topic "${name}" and all its records?`))) return;
  await attempt(async () => {
    await api("DELETE", "/topics/" + encodeURIComponent(name));
    route();
  });
}

// "k=v" lines -> {k: v}
function parseConfigLines(text) {
  const out = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const i = line.indexOf("=");
    if (i <= 0) throw new Error(`config line "${line}" is not key=value`);
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

function createForm() {
  const name = h("input", { id: "topic-create-name", testid: "topic-create-name", required: true });
  const parts = h("input", { id: "topic-create-partitions", type: "number", min: 1, value: "1" });
  const rf = h("input", { id: "topic-create-rf", type: "number", min: 1, placeholder: "default" });
  const configs = h("textarea", { id: "topic-create-configs", rows: 3,
    placeholder: "retention.ms=86400000\ncleanup.policy=compact" });
  const result = h("p", { id: "topic-create-result", testid: "topic-create-result" });
  const form = h("form", { id: "topic-create", class: "card" },
    h("h2", {}, "Create topic"),
    h("label", {}, "Name ", name), h("label", {}, "Partitions ", parts),
    h("label", {}, "Replication factor ", rf), h("label", {}, "Configs (key=value lines) ", configs),
    h("button", { id: "topic-create-submit", testid: "topic-create-submit", type: "submit" }, "Create"),
    result);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    attempt(async () => {
      const body = { name: name.value.trim(), partitions: parseInt(parts.value, 10) || undefined,
        configs: parseConfigLines(configs.value) };
      if (rf.value) body.replication_factor = parseInt(rf.value, 10);
      const created = await api("POST", "/topics", body);
      result.textContent = `Created ${created.name} (${created.partitions} partitions)`;
      go(topicHash(created.name));
    });
  });
  return form;
}

function renderTopic(main, [name], params) {
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const parts = h("div", { id: "partitions" });
  const configs = h("div", { id: "configs" });
  main.append(
    h("p", {}, h("a", { href: "#/topics" }, "‹ Topics")),
    h("h1", { id: "topic-name", testid: "topic-name" }, name),
    h("p", { id: "topic-summary", class: "muted" }),
    h("h2", {}, "Partitions"), parts, h("h2", {}, "Configs"), configs);
  attempt(async () => {
    const q = new URLSearchParams({ offset: String(offset), limit: String(PARTITIONS_PAGE) });
    const t = await api("GET", "/topics/" + encodeURIComponent(name) + "?" + q);
    $("topic-summary").textContent = `${t.partition_count} partitions · replication factor ` +
      `${t.replication_factor} · id ${t.topic_id}` + (t.internal ? " · internal" : "");
    parts.replaceChildren(
      table("partition-table",
        ["Partition", "Leader", "Replicas", "ISR", "Log start", "High watermark", "Log end", "Size here", ""],
        t.partitions.map((p) => [
          String(p.partition), p.leader < 0 ? "offline" : String(p.leader),
          p.replicas.join(", "), p.isr.join(", "),
          dash(p.log_start), dash(p.high_watermark), dash(p.log_end), fmtBytes(p.size_bytes),
          h("a", { href: "#/messages?" + new URLSearchParams({ topic: name, partition: String(p.partition) }),
            testid: "browse-" + p.partition }, "Messages"),
        ]),
        (i) => ({ testid: "partition-row-" + t.partitions[i].partition })),
      pager("partition", { offset: t.offset, limit: t.limit, total: t.partition_count },
        (o) => go(topicHash(name) + "?offset=" + o)));
  });
  loadConfigs(configs, name);
}

async function loadConfigs(box, name) {
  await attempt(async () => {
    const c = await api("GET", "/topics/" + encodeURIComponent(name) + "/configs");
    box.replaceChildren(configTable(box, name, c.configs));
  });
}

function configTable(box, name, configs) {
  const change = (body) => attempt(async () => {
    const c = await api("PATCH", "/topics/" + encodeURIComponent(name) + "/configs", body);
    box.replaceChildren(configTable(box, name, c.configs));
  });
  return table("config-table", ["Name", "Value", "Source", ""], configs.map((c) => {
    const value = h("span", { testid: "config-value-" + c.name }, c.sensitive ? "(hidden)" : c.value);
    const actions = h("span", {});
    if (!UI.readOnly) {
      actions.append(h("button", { type: "button", class: "small", testid: "config-edit-" + c.name,
        onclick: () => {
          const input = h("input", { value: c.value, testid: "config-input-" + c.name });
          value.replaceChildren(input,
            h("button", { type: "button", class: "small", testid: "config-save-" + c.name,
              onclick: () => change({ set: { [c.name]: input.value } }) }, "Save"));
          input.focus();
        } }, "Edit"));
      if (c.source === "topic") {
        actions.append(h("button", { type: "button", class: "small", testid: "config-reset-" + c.name,
          title: "Remove the topic's own value", onclick: () => change({ delete: [c.name] }) }, "Reset"));
      }
    }
    return [h("span", { title: c.doc }, c.name), value,
      h("span", { class: c.is_default ? "muted" : "", testid: "config-source-" + c.name }, c.source), actions];
  }));
}

UI.routes.push([/^\/topics$/, renderTopics]);
UI.routes.push([/^\/topics\/(.+)$/, renderTopic]);
