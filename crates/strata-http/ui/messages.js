// Message browser: one partition from an offset or a timestamp; keys, values and
// headers shown as text, pretty JSON, hex or decoded through the schema registry.
"use strict";

const FORMATS = ["text", "json", "hex", "decoded"];

// The form a payload is shown in; falls back to what exists.
function payloadText(p, format) {
  if (p === null || p === undefined) return h("span", { class: "muted" }, "null");
  let out;
  if (format === "decoded" && p.schema) {
    const s = p.schema;
    const head = `schema ${s.schema_id}` + (s.subject ? ` (${s.subject}, ${s.schema_type})` : ` (${s.schema_type})`);
    out = s.value !== null && s.value !== undefined
      ? head + "\n" + JSON.stringify(s.value, null, 2)
      : head + ": " + (s.error || "not decoded");
  } else if (format === "json" && p.json !== null) out = p.json;
  else if (format === "hex" || p.text === null) out = p.hex.replace(/(..)/g, "$1 ").trim();
  else out = p.text;
  if (p.truncated) out += `\n… (${p.size} bytes in all)`;
  return h("pre", { class: "payload" }, out);
}

function renderMessages(main, _m, params) {
  const topic = params.get("topic") || "";
  const partition = params.get("partition") || "0";
  const mode = params.get("timestamp") !== null ? "timestamp" : "offset";
  const from = params.get(mode) || (mode === "offset" ? "0" : "");
  const limit = params.get("limit") || "20";
  let format = params.get("format") || "text";
  if (!FORMATS.includes(format)) format = "text";

  const f = {
    topic: h("input", { id: "msg-topic", testid: "msg-topic", value: topic, required: true, list: "msg-topics" }),
    partition: h("input", { id: "msg-partition", testid: "msg-partition", type: "number", min: 0, value: partition }),
    mode: h("select", { id: "msg-mode", testid: "msg-mode" },
      h("option", { value: "offset", selected: mode === "offset" }, "from offset"),
      h("option", { value: "timestamp", selected: mode === "timestamp" }, "from timestamp (ms)")),
    from: h("input", { id: "msg-from", testid: "msg-from", value: from }),
    limit: h("input", { id: "msg-limit", testid: "msg-limit", type: "number", min: 1, max: 100, value: limit }),
    format: h("select", { id: "msg-format", testid: "msg-format" },
      FORMATS.map((x) => h("option", { value: x, selected: x === format }, x))),
  };
  // The hash of the form's query; `nextOffset` reads on from there instead.
  const hashFor = (nextOffset) => {
    const q = { topic: f.topic.value.trim(), partition: f.partition.value || "0",
      limit: f.limit.value || "20", format: f.format.value };
    if (nextOffset !== undefined) q.offset = String(nextOffset);
    else q[f.mode.value] = f.from.value.trim();
    return "#/messages?" + new URLSearchParams(q);
  };
  const form = h("form", { id: "msg-form", class: "toolbar" },
    h("label", {}, "Topic ", f.topic), h("datalist", { id: "msg-topics" }),
    h("label", {}, "Partition ", f.partition), f.mode, f.from,
    h("label", {}, "Limit ", f.limit), h("label", {}, "Show as ", f.format),
    h("button", { id: "msg-fetch", testid: "msg-fetch", type: "submit" }, "Fetch"));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); go(hashFor()); });
  const out = h("div", { id: "msg-results" });
  main.append(h("h1", {}, "Messages"), form, out);
  let page = null;
  const draw = () => {
    if (!page) return;
    out.replaceChildren(
      h("p", { id: "msg-summary", testid: "msg-summary", class: "muted" },
        `${page.records.length} records from offset ${page.start_offset} · log start ${page.log_start}` +
        ` · high watermark ${page.high_watermark}`),
      table("msg-table", ["Offset", "Timestamp", "Key", "Value", "Headers"],
        page.records.map((r) => [
          String(r.offset),
          h("span", { title: r.timestamp_type }, new Date(r.timestamp).toISOString()),
          payloadText(r.key, f.format.value),
          payloadText(r.value, f.format.value),
          h("div", {}, r.headers.map((x) => h("div", { class: "header" },
            h("b", {}, x.key + ": "), payloadText(x.value, f.format.value)))),
        ]),
        (i) => ({ testid: "msg-row-" + page.records[i].offset })),
      page.next_offset < page.high_watermark
        ? h("button", { id: "msg-next", testid: "msg-next", type: "button",
          onclick: () => go(hashFor(page.next_offset)) }, "Next page ›")
        : h("p", { class: "muted", id: "msg-end" }, "End of partition (high watermark)."));
  };
  f.format.addEventListener("change", draw);
  attempt(async () => {
    const t = await api("GET", "/topics?limit=500");
    $("msg-topics").replaceChildren(...t.topics.map((x) => h("option", { value: x.name })));
  });
  if (!topic) return;
  attempt(async () => {
    const q = new URLSearchParams({ limit });
    if (from !== "") q.set(mode, from);
    page = await api("GET", `/topics/${encodeURIComponent(topic)}/partitions/${encodeURIComponent(partition)}/messages?` + q);
    draw();
  });
}

UI.routes.push([/^\/messages$/, renderMessages]);
