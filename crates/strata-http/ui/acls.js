// ACLs: the bindings (filtered by resource type, name, pattern and principal; paged), a
// form that creates one, and deletion of one exact binding. Without an authorizer the
// API answers 409 and the banner says so.
"use strict";

const ACLS_PAGE = 100;
const ACL_RESOURCE_TYPES = ["topic", "group", "cluster", "transactional_id", "delegation_token", "user"];
const ACL_PATTERNS = ["literal", "prefixed"];
const ACL_OPERATIONS = ["read", "write", "create", "delete", "alter", "describe", "cluster_action",
  "describe_configs", "alter_configs", "idempotent_write", "create_tokens", "describe_tokens", "all"];
const ACL_PERMISSIONS = ["allow", "deny"];

// A stable key of a binding, for test ids.
function aclKey(a) {
  return [a.resource_type, a.pattern_type, a.resource_name, a.principal, a.host, a.operation,
    a.permission].join(":");
}

function options(values, selected) {
  return values.map((v) => h("option", { value: v, selected: v === selected }, v));
}

function renderAcls(main, _m, params) {
  const filter = {
    resource_type: params.get("resource_type") || "",
    name: params.get("name") || "",
    pattern: params.get("pattern") || "",
    principal: params.get("principal") || "",
  };
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const nav = (f, o) => go("#/acls?" + new URLSearchParams({ ...f, offset: String(o) }));
  const type = h("select", { id: "acl-filter-type", testid: "acl-filter-type" },
    h("option", { value: "" }, "any type"), options(ACL_RESOURCE_TYPES, filter.resource_type));
  const pattern = h("select", { id: "acl-filter-pattern", testid: "acl-filter-pattern" },
    h("option", { value: "" }, "any pattern"), options([...ACL_PATTERNS, "match"], filter.pattern));
  const name = h("input", { id: "acl-filter-name", testid: "acl-filter-name", type: "search",
    placeholder: "Resource name", value: filter.name });
  const principal = h("input", { id: "acl-filter-principal", testid: "acl-filter-principal",
    type: "search", placeholder: "Principal (User:alice)", value: filter.principal });
  const apply = h("button", { id: "acl-filter-apply", testid: "acl-filter-apply", type: "submit" }, "Filter");
  const bar = h("form", { class: "toolbar", id: "acl-filter" }, type, pattern, name, principal, apply);
  bar.addEventListener("submit", (ev) => {
    ev.preventDefault();
    nav({ resource_type: type.value, name: name.value.trim(), pattern: pattern.value,
      principal: principal.value.trim() }, 0);
  });
  const list = h("div", { id: "acl-list" });
  main.append(h("h1", {}, "ACLs"), bar, list);
  if (!UI.readOnly) main.append(aclForm());
  attempt(async () => {
    const q = new URLSearchParams({ offset: String(offset), limit: String(ACLS_PAGE) });
    for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
    const page = await api("GET", "/acls?" + q);
    list.replaceChildren(
      table("acl-table",
        ["Resource type", "Pattern", "Resource", "Principal", "Host", "Operation", "Permission", ""],
        page.acls.map((a) => [
          a.resource_type, a.pattern_type, a.resource_name, a.principal, a.host, a.operation,
          h("span", { class: a.permission === "deny" ? "error" : "" }, a.permission),
          UI.readOnly ? "" : h("button", {
            type: "button", class: "danger small", testid: "acl-delete-" + aclKey(a),
            onclick: () => deleteAcl(a),
          }, "Delete"),
        ]),
        (i) => ({ testid: "acl-row-" + aclKey(page.acls[i]) })),
      pager("acl", page, (o) => nav(filter, o)));
    if (page.total === 0) list.append(h("p", { class: "muted", id: "no-acls", testid: "no-acls" }, "No ACLs match."));
  });
}

async function deleteAcl(a) {
  const text = `Delete the ACL "${a.permission} ${a.operation} on ${a.resource_type} ` +
    `${a.pattern_type} ${a.resource_name} for ${a.principal} from ${a.host}"?`;
  if (!(await confirmDialog(text))) return;
  await attempt(async () => {
    // The exact binding as the filter: deletes this ACL only.
    await api("DELETE", "/acls", {
      resource_type: a.resource_type, resource_name: a.resource_name, pattern_type: a.pattern_type,
      principal: a.principal, host: a.host, operation: a.operation, permission: a.permission,
    });
    route();
  });
}

function aclForm() {
  const type = h("select", { id: "acl-create-type", testid: "acl-create-type" },
    options(ACL_RESOURCE_TYPES, "topic"));
  const pattern = h("select", { id: "acl-create-pattern", testid: "acl-create-pattern" },
    options(ACL_PATTERNS, "literal"));
  const name = h("input", { id: "acl-create-name", testid: "acl-create-name", required: true,
    placeholder: "topic name, prefix, or *" });
  const principal = h("input", { id: "acl-create-principal", testid: "acl-create-principal",
    required: true, placeholder: "User:alice" });
  const host = h("input", { id: "acl-create-host", testid: "acl-create-host", value: "*" });
  const operation = h("select", { id: "acl-create-operation", testid: "acl-create-operation" },
    options(ACL_OPERATIONS, "read"));
  const permission = h("select", { id: "acl-create-permission", testid: "acl-create-permission" },
    options(ACL_PERMISSIONS, "allow"));
  const result = h("p", { id: "acl-create-result", testid: "acl-create-result" });
  // The cluster resource has one name.
  type.addEventListener("change", () => {
    if (type.value === "cluster") name.value = "kafka-cluster";
  });
  const form = h("form", { id: "acl-create", class: "card" },
    h("h2", {}, "Create ACL"),
    h("label", {}, "Resource type ", type), h("label", {}, "Pattern ", pattern),
    h("label", {}, "Resource name ", name),
    h("label", {}, "Principal (a bare name means User:name) ", principal),
    h("label", {}, "Host ", host), h("label", {}, "Operation ", operation),
    h("label", {}, "Permission ", permission),
    h("button", { id: "acl-create-submit", testid: "acl-create-submit", type: "submit" }, "Create"),
    result);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    attempt(async () => {
      let who = principal.value.trim();
      if (who && !who.includes(":")) who = "User:" + who;
      const r = await api("POST", "/acls", {
        resource_type: type.value, resource_name: name.value.trim(), pattern_type: pattern.value,
        principal: who, host: host.value.trim() || "*", operation: operation.value,
        permission: permission.value,
      });
      result.textContent = r.created ? "Created." : "It existed already.";
      route();
    });
  });
  return form;
}

UI.routes.push([/^\/acls$/, renderAcls]);
