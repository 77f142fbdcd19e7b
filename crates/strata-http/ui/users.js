// SCRAM users: the list (mechanisms and iteration counts; the API never shows a salt or
// a key), a form that creates a user or changes its password, and deletion.
"use strict";

const USERS_PAGE = 100;
const SCRAM_MECHANISMS = ["SCRAM-SHA-512", "SCRAM-SHA-256"];

function renderUsers(main, _m, params) {
  const search = params.get("search") || "";
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  const nav = (s, o) => go("#/users?" + new URLSearchParams({ search: s, offset: String(o) }));
  const input = h("input", { id: "user-search", testid: "user-search", type: "search",
    placeholder: "Search users", value: search });
  let debounce = null;
  input.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => nav(input.value, 0), 300);
  });
  const list = h("div", { id: "user-list" });
  main.append(h("h1", {}, "Users"),
    h("p", { class: "muted" }, "SCRAM users of the cluster (principal User:<name>)."),
    h("div", { class: "toolbar" }, input), list);
  if (!UI.readOnly) main.append(userForm());
  attempt(async () => {
    const q = new URLSearchParams({ search, offset: String(offset), limit: String(USERS_PAGE) });
    const page = await api("GET", "/users?" + q);
    list.replaceChildren(
      table("user-table", ["User", "Mechanisms", ""],
        page.users.map((u) => [
          h("span", { testid: "user-name-" + u.user }, u.user),
          h("span", { testid: "user-mechanisms-" + u.user },
            u.credentials.map((c) => `${c.mechanism} (${c.iterations} iterations)`).join(", ")),
          UI.readOnly ? "" : h("button", {
            type: "button", class: "danger small", testid: "user-delete-" + u.user,
            onclick: () => deleteUser(u.user),
          }, "Delete"),
        ]),
        (i) => ({ testid: "user-row-" + page.users[i].user })),
      pager("user", page, (o) => nav(search, o)));
    if (page.total === 0) list.append(h("p", { class: "muted", id: "no-users", testid: "no-users" }, "No users."));
  });
}

async function deleteUser(name) {
  if (!(await confirmDialog(`Delete user "${name}" (all its SCRAM credentials)?`))) return;
  await attempt(async () => {
    await api("DELETE", "/users/" + encodeURIComponent(name));
    route();
  });
}

// Creates a user, or sets a new password for one mechanism of an existing user.
function userForm() {
  const name = h("input", { id: "user-create-name", testid: "user-create-name", required: true,
    autocomplete: "off" });
  const mechanism = h("select", { id: "user-create-mechanism", testid: "user-create-mechanism" },
    SCRAM_MECHANISMS.map((m) => h("option", { value: m }, m)));
  const password = h("input", { id: "user-create-password", testid: "user-create-password",
    type: "password", required: true, autocomplete: "new-password" });
  const iterations = h("input", { id: "user-create-iterations", testid: "user-create-iterations",
    type: "number", min: 4096, max: 16384, placeholder: "8192" });
  const result = h("p", { id: "user-create-result", testid: "user-create-result" });
  const form = h("form", { id: "user-create", class: "card" },
    h("h2", {}, "Create user or set password"),
    h("label", {}, "Name ", name), h("label", {}, "Mechanism ", mechanism),
    h("label", {}, "Password ", password),
    h("label", {}, "Iterations (4096–16384) ", iterations),
    h("button", { id: "user-create-submit", testid: "user-create-submit", type: "submit" }, "Save"),
    result);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    attempt(async () => {
      const body = { mechanism: mechanism.value, password: password.value };
      if (iterations.value) body.iterations = parseInt(iterations.value, 10);
      const user = name.value.trim();
      const r = await api("PUT", "/users/" + encodeURIComponent(user), body);
      password.value = "";
      result.textContent = `${r.created ? "Created" : "Updated"} ${r.user} (${r.mechanism})`;
      const q = new URLSearchParams({ search: user, offset: "0" });
      go("#/users?" + q);
    });
  });
  return form;
}

UI.routes.push([/^\/users$/, renderUsers]);
