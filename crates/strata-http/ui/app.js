// Strata admin UI: the shell (API calls, login, hash routes, DOM helpers) and the
// overview page. Pages live in topics.js, messages.js, groups.js, users.js and acls.js;
// each registers itself in UI.routes. Everything is built with DOM calls (never
// innerHTML), so record contents and names are always shown as text.
"use strict";

const UI = {
  routes: [],      // [regexp, render(match, params)]
  timers: [],      // intervals of the current page, cleared on navigation
  readOnly: false,
  generation: 0,   // bumped on navigation: late answers of a left page are dropped
};

const AUTH_KEY = "strata.auth";

// ---- DOM helpers ---------------------------------------------------------------------

// h("tag", {attrs}, children...): attributes starting with "on" are listeners;
// children are nodes or text (null/undefined/false are skipped).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "testid") el.setAttribute("data-testid", v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function $(id) { return document.getElementById(id); }

function show(el, on) { el.classList.toggle("hidden", !on); }

// A table: header names and rows of cells (each cell a node or text).
function table(id, headers, rows, rowAttrs) {
  return h("table", { id, testid: id },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((cells, i) =>
      h("tr", rowAttrs ? rowAttrs(i) : {}, cells.map((c) => h("td", {}, c))))));
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}

function dash(v) { return v === null || v === undefined ? "-" : String(v); }

function banner(msg) {
  const b = $("banner");
  b.textContent = msg || "";
  show(b, !!msg);
}

function every(ms, fn) { UI.timers.push(setInterval(fn, ms)); }

function confirmDialog(text) {
  return new Promise((resolve) => {
    $("confirm-text").textContent = text;
    show($("confirm"), true);
    const done = (v) => {
      show($("confirm"), false);
      $("confirm-yes").onclick = null;
      $("confirm-no").onclick = null;
      resolve(v);
    };
    $("confirm-yes").onclick = () => done(true);
    $("confirm-no").onclick = () => done(false);
  });
}

// A pager: "prev / info / next" for a list answer {total, offset, limit}.
function pager(prefix, page, go) {
  const last = page.offset + page.limit >= page.total;
  const from = page.total === 0 ? 0 : page.offset + 1;
  const to = Math.min(page.offset + page.limit, page.total);
  return h("div", { class: "pager" },
    h("button", { id: prefix + "-prev", type: "button", disabled: page.offset === 0,
      onclick: () => go(Math.max(0, page.offset - page.limit)) }, "‹ Prev"),
    h("span", { id: prefix + "-page-info", testid: prefix + "-page-info" },
      `${from}–${to} of ${page.total}`),
    h("button", { id: prefix + "-next", type: "button", disabled: last,
      onclick: () => go(page.offset + page.limit) }, "Next ›"));
}

// ---- API -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// Calls /api/v1. Credentials (from the login form) go in an Authorization header;
// `credentials: "omit"` keeps the browser from ever showing its own login prompt.
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const auth = sessionStorage.getItem(AUTH_KEY);
  if (auth) headers.Authorization = "Basic " + auth;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const gen = UI.generation;
  const res = await fetch("/api/v1" + path, {
    method, headers, credentials: "omit", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (res.status === 401) {
    showLogin(sessionStorage.getItem(AUTH_KEY) ? "Log in again: " + errorText(data, res) : "");
    throw new ApiError(401, errorText(data, res));
  }
  if (!res.ok) throw new ApiError(res.status, errorText(data, res));
  if (gen !== UI.generation) throw new ApiError(0, "stale");
  return data;
}

function errorText(data, res) {
  return (data && data.error) || `${res.status} ${res.statusText}`;
}

// Runs an API action and shows its failure in the banner (not for stale answers).
async function attempt(fn) {
  try {
    banner("");
    return await fn();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 0 || e.status === 401)) return undefined;
    banner(e.message || String(e));
    return undefined;
  }
}

// ---- login ---------------------------------------------------------------------------

function showLogin(message) {
  sessionStorage.removeItem(AUTH_KEY);
  clearPage();
  $("main").replaceChildren();
  show($("login"), true);
  show($("logout"), false);
  $("whoami").textContent = "";
  $("login-error").textContent = message || "";
  $("login-user").focus();
}

function setupLogin() {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const user = $("login-user").value;
    const pw = $("login-password").value;
    // btoa needs Latin-1: encode UTF-8 first.
    const bytes = new TextEncoder().encode(user + ":" + pw);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    sessionStorage.setItem(AUTH_KEY, btoa(bin));
    sessionStorage.setItem(AUTH_KEY + ".user", user);
    $("login-password").value = "";
    show($("login"), false);
    start();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(AUTH_KEY);
    sessionStorage.removeItem(AUTH_KEY + ".user");
    showLogin("");
  });
}

// ---- routing -------------------------------------------------------------------------

function clearPage() {
  UI.generation++;
  for (const t of UI.timers) clearInterval(t);
  UI.timers = [];
}

// "#/groups/g1?x=1" -> ["/groups/g1", URLSearchParams]
function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?", 2);
  return [path, new URLSearchParams(query || "")];
}

function route() {
  clearPage();
  banner("");
  show($("login"), false);
  const user = sessionStorage.getItem(AUTH_KEY + ".user");
  $("whoami").textContent = user && sessionStorage.getItem(AUTH_KEY) ? user : "";
  show($("logout"), !!sessionStorage.getItem(AUTH_KEY));
  const [path, params] = parseHash();
  for (const a of document.querySelectorAll("nav a")) {
    const target = a.getAttribute("href").slice(1);
    a.classList.toggle("active", target === "/" ? path === "/" : path.startsWith(target));
  }
  const main = $("main");
  main.replaceChildren();
  for (const [re, render] of UI.routes) {
    const m = path.match(re);
    if (m) {
      render(main, m.slice(1).map(decodeURIComponent), params);
      return;
    }
  }
  main.append(h("p", { class: "muted" }, "No such page."));
}

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

// ---- overview ------------------------------------------------------------------------

const CHART_SERIES = [
  ["bytes_in", "bytes in/s", "#2b7bd6"],
  ["bytes_out", "bytes out/s", "#d6732b"],
  ["records_in", "records in/s", "#2ba84a"],
  ["records_out", "records out/s", "#8a4fc7"],
];

// A line chart of the rate history on a <canvas> (one y-axis per unit would be
// nicer; one shared axis with the largest value keeps it small).
function drawChart(canvas, history) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, hgt = canvas.height, pad = 40;
  ctx.clearRect(0, 0, w, hgt);
  ctx.strokeStyle = "#ccc";
  ctx.strokeRect(pad, 10, w - pad - 10, hgt - 30);
  let max = 1;
  for (const s of history) for (const [k] of CHART_SERIES) max = Math.max(max, s[k]);
  ctx.fillStyle = "#666";
  ctx.font = "11px sans-serif";
  ctx.fillText(max >= 1024 ? fmtBytes(max) : max.toFixed(0), 2, 18);
  ctx.fillText("0", 2, hgt - 20);
  const n = Math.max(history.length - 1, 1);
  const x = (i) => pad + (i / n) * (w - pad - 10);
  const y = (v) => hgt - 20 - (v / max) * (hgt - 30);
  CHART_SERIES.forEach(([k, label, color], si) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    history.forEach((s, i) => (i === 0 ? ctx.moveTo(x(i), y(s[k])) : ctx.lineTo(x(i), y(s[k]))));
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.fillText(label, pad + 10 + si * 110, hgt - 5);
  });
}

function renderOverview(main) {
  const cards = h("div", { class: "cards", id: "ov-cards" });
  const brokers = h("div", { id: "ov-brokers-wrap" });
  const canvas = h("canvas", { id: "ov-chart", testid: "ov-chart", width: 720, height: 220 });
  const rates = h("p", { id: "ov-rates", class: "muted" });
  main.append(h("h1", {}, "Overview"), cards,
    h("h2", {}, "Throughput (this broker)"), canvas, rates,
    h("h2", {}, "Brokers"), brokers);
  const card = (id, label, value, cls) =>
    h("div", { class: "card stat " + (cls || "") },
      h("div", { class: "label" }, label), h("div", { id, testid: id, class: "value" }, value));
  const refresh = () => attempt(async () => {
    const o = await api("GET", "/overview");
    UI.readOnly = o.read_only;
    cards.replaceChildren(
      card("ov-health", "Health", o.health, "health-" + o.health),
      card("ov-cluster", "Cluster id", o.cluster_id),
      card("ov-controller", "Controller", dash(o.controller_id)),
      card("ov-topics", "Topics", o.partitions.topics),
      card("ov-partitions", "Partitions", o.partitions.total),
      card("ov-urp", "Under-replicated", o.partitions.under_replicated,
        o.partitions.under_replicated ? "warn" : ""),
      card("ov-offline", "Offline", o.partitions.offline, o.partitions.offline ? "bad" : ""));
    if (o.read_only) cards.append(card("ov-readonly", "Mode", "read-only"));
    if (o.reasons.length) cards.append(h("p", { class: "error" }, o.reasons.join("; ")));
    brokers.replaceChildren(table("ov-brokers", ["Id", "Address", "Rack", "Status"],
      o.brokers.map((b) => [
        String(b.node_id) + (b.this_broker ? " (this)" : ""),
        b.address, dash(b.rack),
        b.fenced ? "fenced" : (b.node_id === o.controller_id ? "active controller" : "up"),
      ])));
    drawChart(canvas, o.history);
    rates.textContent = `in ${fmtBytes(o.rates.bytes_in)}/s · out ${fmtBytes(o.rates.bytes_out)}/s · ` +
      `${o.rates.records_in.toFixed(1)} records/s in · ${o.rates.records_out.toFixed(1)} records/s out`;
  });
  refresh();
  every(2000, refresh);
}

UI.routes.push([/^\/$/, renderOverview]);

window.addEventListener("hashchange", route);
// Learns the mode (read-only hides the change buttons; the API refuses them anyway),
// then shows the page the hash names (or the login form on 401).
async function start() {
  try {
    const o = await api("GET", "/overview");
    UI.readOnly = o.read_only;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
  }
  route();
}

document.addEventListener("DOMContentLoaded", () => {
  setupLogin();
  start();
});
