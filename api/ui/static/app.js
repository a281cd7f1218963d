// Escapement triage page: plain JavaScript over /api/v1 on this origin.
// Routes live in the URL hash: "#/?severity_min=high&status=new&vm=vm-1" is
// the overview with filters, "#/anomaly/<id>" an anomaly's detail.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "escapement.token";
const MAX_PAGES = 10; // list pages followed (1000 anomalies each)
const SHOWN = 500; // anomalies shown, newest last_seen first
const SPARK_VMS = 50; // VMs given a sparkline

// ---- small helpers -------------------------------------------------------

function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "style") n.style.cssText = v; // CSSOM: allowed by the page's CSP, unlike a style attribute
    else if (k === "text") n.textContent = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of kids.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
  return n;
}

function fmtTime(s) {
  if (!s || s.startsWith("0001-")) return "—";
  const d = new Date(s);
  return isNaN(d) ? s : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function fmtNum(x, digits) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits === undefined ? 2 : digits) : "—";
}

function sevBadge(sev) {
  return el("span", { class: "sev sev-" + (sev || "none"), text: sev || "—" });
}

function statusLabel(s) {
  return (s || "new").replace("_", " ");
}

function say(text, kind) {
  const m = document.getElementById("message");
  m.hidden = !text;
  m.className = kind || "info";
  m.textContent = text || "";
}

// ---- API -----------------------------------------------------------------

class APIError extends Error {
  constructor(status, title, detail, etag) {
    super(detail || title || "HTTP " + status);
    this.status = status;
    this.title = title;
    this.etag = etag;
  }
}

async function api(path, opts) {
  opts = opts || {};
  const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(API + path, { method: opts.method || "GET", headers, body: opts.body, cache: "no-store" });
  const etag = resp.headers.get("ETag");
  let body = null;
  const text = await resp.text();
  if (text) {
    try { body = JSON.parse(text); } catch (e) { body = { detail: text }; }
  }
  if (!resp.ok) {
    if (resp.status === 401) askToken("The API needs a token: paste one with the read scope (write to triage).");
    throw new APIError(resp.status, body && body.title, body && body.detail, etag);
  }
  return { body, etag, headers: resp.headers };
}

function askToken(why) {
  document.getElementById("token-form").hidden = false;
  say(why, "error");
}

function showAuthState() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  document.getElementById("auth-state").textContent = t ? "token set for this tab" : "";
}

// ---- sparkline and timeline ----------------------------------------------

// sparkline draws values (oldest first) as an inline SVG polyline.
function sparkline(values, w, h) {
  const s = svg("svg", { class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  if (!values.length) return s;
  const max = Math.max(...values, 1e-9), min = Math.min(...values, 0);
  const span = max - min || 1;
  const x = (i) => (values.length === 1 ? w / 2 : (i * (w - 2)) / (values.length - 1) + 1);
  const y = (v) => h - 1 - ((v - min) / span) * (h - 2);
  const pts = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  s.append(svg("polyline", { points: pts, fill: "none", stroke: "currentColor", "stroke-width": 1.5 }));
  const last = values.length - 1;
  s.append(svg("circle", { cx: x(last), cy: y(values[last]), r: 2, fill: "currentColor" }));
  const t = svg("title", {});
  t.textContent = `${values.length} scores, last ${fmtNum(values[last])}, max ${fmtNum(max)}`;
  s.append(t);
  return s;
}

// timeline draws a VM's score points over time, the incident's own points
// marked, with the threshold of the incident as a dashed line.
function timeline(points, anomalyID, threshold, w, h) {
  const s = svg("svg", { class: "timeline", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  if (!points.length) return s;
  const pad = 28;
  const ts = points.map((p) => Date.parse(p.time));
  const vs = points.map((p) => p.score);
  const t0 = Math.min(...ts), t1 = Math.max(...ts);
  const vmax = Math.max(...vs, threshold || 0) * 1.1 || 1;
  const x = (t) => (t1 === t0 ? w / 2 : pad + ((t - t0) / (t1 - t0)) * (w - 2 * pad));
  const y = (v) => h - pad - (v / vmax) * (h - 2 * pad);
  s.append(svg("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, class: "axis" }));
  s.append(svg("line", { x1: pad, y1: pad, x2: pad, y2: h - pad, class: "axis" }));
  if (threshold > 0) {
    s.append(svg("line", { x1: pad, y1: y(threshold), x2: w - pad, y2: y(threshold), class: "threshold" }));
    const lbl = svg("text", { x: w - pad, y: y(threshold) - 3, "text-anchor": "end", class: "label" });
    lbl.textContent = "threshold " + fmtNum(threshold);
    s.append(lbl);
  }
  s.append(svg("polyline", { points: points.map((p, i) => `${x(ts[i]).toFixed(1)},${y(vs[i]).toFixed(1)}`).join(" "), class: "line" }));
  points.forEach((p, i) => {
    const c = svg("circle", { cx: x(ts[i]), cy: y(vs[i]), r: p.anomaly_id === anomalyID ? 4 : 2.5, class: p.anomaly_id === anomalyID ? "mine" : "other" });
    const t = svg("title", {});
    t.textContent = `${fmtTime(p.time)} score ${fmtNum(p.score)} risk ${fmtNum(p.risk_score, 1)} (${p.anomaly_id} rev ${p.revision})`;
    c.append(t);
    s.append(c);
  });
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    const lbl = svg("text", { x: x(t), y: h - 8, "text-anchor": anchor, class: "label" });
    lbl.textContent = fmtTime(new Date(t).toISOString());
    s.append(lbl);
  }
  return s;
}

// ---- overview: fleet and anomaly list -------------------------------------

function filtersFromHash() {
  const q = location.hash.split("?")[1] || "";
  const p = new URLSearchParams(q);
  const f = {};
  for (const k of ["severity_min", "status", "vm"]) if (p.get(k)) f[k] = p.get(k);
  return f;
}

function setFilters(f) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  const q = p.toString();
  location.hash = "#/" + (q ? "?" + q : "");
}

async function loadFleet() {
  const tbody = document.querySelector("#fleet tbody");
  const { body } = await api("/vms?limit=200");
  const vms = body.data || [];
  tbody.replaceChildren();
  document.querySelector("#fleet .empty").hidden = vms.length > 0;
  vms.forEach((v, i) => {
    const cell = el("td", { class: "spark-cell" });
    const tr = el("tr", { "data-vm": v.vm_id },
      el("td", {}, el("a", { href: "#/?vm=" + encodeURIComponent(v.vm_id), text: v.name ? `${v.name} (${v.vm_id})` : v.vm_id })),
      el("td", { text: v.host }),
      el("td", { class: "num", text: fmtNum(v.risk_score, 1) }),
      el("td", {}, sevBadge(v.severity)),
      el("td", { class: "num", text: `${v.open_anomalies} / ${v.anomalies}` }),
      cell,
      el("td", { text: fmtTime(v.last_seen) }));
    tbody.append(tr);
    if (i < SPARK_VMS) {
      api(`/vms/${encodeURIComponent(v.vm_id)}/scores?limit=50`)
        .then(({ body }) => cell.append(sparkline((body.data || []).map((p) => p.risk_score), 120, 24)))
        .catch((e) => { cell.textContent = "scores: " + e.message; });
    }
  });
}

async function loadAnomalies(f) {
  const tbody = document.querySelector("#anomalies tbody");
  const p = new URLSearchParams(f);
  p.set("limit", "1000");
  let all = [], more = false, pages = 0;
  for (;;) {
    const { body } = await api("/anomalies?" + p.toString());
    all = all.concat(body.data || []);
    more = body.has_more;
    pages++;
    if (!more || pages >= MAX_PAGES) break;
    p.set("cursor", body.next_cursor);
  }
  all.sort((a, b) => Date.parse(b.last_seen) - Date.parse(a.last_seen) || b.risk_score - a.risk_score);
  const shown = all.slice(0, SHOWN);
  tbody.replaceChildren(...shown.map((a) => {
    const href = "#/anomaly/" + encodeURIComponent(a.id);
    return el("tr", { "data-id": a.id, class: "status-" + (a.status || "new") },
      el("td", {}, sevBadge(a.severity)),
      el("td", {}, el("a", { href, text: a.title || a.id })),
      el("td", { text: (a.vm && (a.vm.name || a.vm.id)) || "—" }),
      el("td", { text: a.host || "—" }),
      el("td", { class: "num", text: fmtNum(a.risk_score, 1) }),
      el("td", { class: "status", text: statusLabel(a.status) }),
      el("td", { class: "verdict", text: a.verdict ? a.verdict.replace("_", " ") : "" }),
      el("td", { text: fmtTime(a.last_seen) }));
  }));
  document.querySelector("#anomalies .empty").hidden = shown.length > 0;
  document.getElementById("anomaly-count").textContent =
    all.length > shown.length || more ? `newest ${shown.length} of ${more ? "more than " : ""}${all.length}` : `${all.length}`;
}

async function showOverview() {
  document.getElementById("detail").hidden = true;
  document.getElementById("overview").hidden = false;
  const f = filtersFromHash();
  const form = document.getElementById("filters");
  for (const k of ["severity_min", "status", "vm"]) form.elements[k].value = f[k] || "";
  await Promise.all([loadFleet(), loadAnomalies(f)]);
}

// ---- detail --------------------------------------------------------------

let current = null; // {rec, etag}

function kv(pairs) {
  return el("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
}

function featuresTable(features) {
  if (!features || !features.length) return el("p", { class: "empty", text: "The record names no features." });
  const zmax = Math.max(...features.map((f) => Math.abs(f.z)), 1);
  return el("table", { class: "features" },
    el("thead", {}, el("tr", {}, ["Feature", "Observed", "Baseline", "z", ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, features.map((f) => el("tr", {},
      el("td", { class: "mono", text: f.name }),
      el("td", { class: "num", text: fmtNum(f.observed, 3) }),
      el("td", { class: "num", text: fmtNum(f.baseline, 3) }),
      el("td", { class: "num z", text: fmtNum(f.z, 1) }),
      el("td", { class: "bar-cell" }, el("span", { class: "bar" + (f.z < 0 ? " neg" : ""), style: `width:${Math.round((Math.abs(f.z) / zmax) * 100)}%` }))))));
}

function triageButtons(rec) {
  const b = (label, patch, cls, active) => el("button", {
    type: "button", class: cls + (active ? " active" : ""), "data-action": label.toLowerCase().replace(/ /g, "-"),
    onclick: () => triage(patch),
  }, label);
  return el("div", { class: "actions" },
    b("Acknowledge", { status: "in_progress" }, "ack", rec.status === "in_progress"),
    b("Resolve", { status: "resolved" }, "resolve", rec.status === "resolved"),
    b("Reopen", { status: "new" }, "reopen", rec.status === "new"),
    b("True positive", { verdict: "true_positive" }, "tp", rec.verdict === "true_positive"),
    b("False positive", { verdict: "false_positive" }, "fp", rec.verdict === "false_positive"));
}

function notesForm(rec) {
  const assignee = el("input", { name: "assignee", value: rec.assignee || "", maxlength: 200, placeholder: "who works on it" });
  const note = el("textarea", { name: "note", rows: 3, maxlength: 4000, placeholder: "what was found" });
  note.value = rec.note || "";
  return el("form", { id: "notes", onsubmit: (e) => { e.preventDefault(); triage({ assignee: assignee.value, note: note.value }); } },
    el("label", {}, "Assignee ", assignee), el("label", {}, "Note ", note), el("button", { type: "submit" }, "Save"));
}

function renderDetail(rec, etag) {
  current = { rec, etag };
  const d = document.getElementById("detail");
  const a = rec.anomaly || {};
  const attack = (rec.attack || []).map((x) => `${x.technique_id} ${x.technique_name} (${x.tactic_id} ${x.tactic_name})`).join("; ");
  const fired = (a.detectors || []).length ? a.detectors.join(", ") : "—";
  const timelineBox = el("div", { id: "timeline" }, el("p", { class: "empty", text: "loading scores…" }));
  const revisions = el("div", { id: "revisions" });
  d.replaceChildren(
    el("p", {}, el("a", { href: "#/", text: "← all anomalies" })),
    el("h2", { id: "detail-title" }, sevBadge(rec.severity), " ", rec.title || rec.id),
    el("div", { class: "cols" },
      el("div", {}, kv([
        ["Id", el("span", { class: "mono", text: rec.id })],
        ["Status", el("span", { id: "detail-status", text: statusLabel(rec.status) })],
        ["Verdict", el("span", { id: "detail-verdict", text: rec.verdict ? rec.verdict.replace("_", " ") : "none yet" })],
        ["Assignee", rec.assignee || "—"],
        ["VM", `${rec.vm && rec.vm.id}${rec.vm && rec.vm.name ? " (" + rec.vm.name + ")" : ""} on ${rec.host || "?"}`],
        ["Risk / confidence", `${fmtNum(rec.risk_score, 1)} / ${fmtNum(rec.confidence)}`],
        ["Score / threshold", `${fmtNum(a.score, 3)} / ${fmtNum(a.threshold, 3)}`],
        ["Seen", `${fmtTime(rec.first_seen)} → ${fmtTime(rec.last_seen)} (${a.windows || 0} windows)`],
        ["Revision", `${rec.revision}, updated ${fmtTime(rec.updated_at)}`],
      ])),
      el("div", {}, kv([
        ["Detector", `${rec.detector.name || rec.detector.id} ${rec.detector.version || ""} (${rec.detector.type || "?"})`],
        ["Detectors that fired", el("span", { id: "detail-detectors", text: fired })],
        ["Scenario class", a.class || "—"],
        ["ATT&CK", attack || "—"],
      ]), triageButtons(rec), notesForm(rec))),
    el("h3", { text: "Why: features observed against baseline" }),
    featuresTable(a.features),
    el("h3", { text: "Score timeline around the incident" }),
    timelineBox,
    el("h3", { text: "Revisions of this incident" }),
    revisions);
  loadTimeline(rec, timelineBox, revisions);
}

async function loadTimeline(rec, box, revisions) {
  const first = Date.parse(rec.first_seen), last = Date.parse(rec.last_seen);
  const margin = Math.max(last - first, 3600e3);
  const p = new URLSearchParams({
    since: new Date(first - margin).toISOString(),
    until: new Date(last + margin).toISOString(),
    limit: "2000",
  });
  try {
    const { body } = await api(`/vms/${encodeURIComponent(rec.vm.id)}/scores?` + p.toString());
    const pts = body.data || [];
    box.replaceChildren(pts.length ? timeline(pts, rec.id, rec.anomaly && rec.anomaly.threshold, 720, 180)
      : el("p", { class: "empty", text: "No stored scores of this VM around the incident." }));
    const mine = pts.filter((x) => x.anomaly_id === rec.id);
    revisions.replaceChildren(el("table", { class: "revs" },
      el("thead", {}, el("tr", {}, ["Revision", "Last seen", "Score", "Threshold", "Risk", "Severity"].map((h) => el("th", { text: h })))),
      el("tbody", {}, mine.map((x) => el("tr", {},
        el("td", { class: "num", text: x.revision }), el("td", { text: fmtTime(x.time) }),
        el("td", { class: "num", text: fmtNum(x.score, 3) }), el("td", { class: "num", text: fmtNum(x.threshold, 3) }),
        el("td", { class: "num", text: fmtNum(x.risk_score, 1) }), el("td", {}, sevBadge(x.severity)))))));
  } catch (e) {
    box.replaceChildren(el("p", { class: "error", text: "Scores: " + e.message }));
  }
}

async function showDetail(id) {
  document.getElementById("overview").hidden = true;
  const d = document.getElementById("detail");
  d.hidden = false;
  d.replaceChildren(el("p", { text: "loading " + id + "…" }));
  const { body, etag } = await api("/anomalies/" + encodeURIComponent(id));
  renderDetail(body, etag);
}

// triage PATCHes the shown anomaly with If-Match; on 412 it reloads the
// anomaly and asks the analyst to look again.
async function triage(patch) {
  if (!current) return;
  const id = current.rec.id;
  try {
    const { body, etag } = await api("/anomalies/" + encodeURIComponent(id), {
      method: "PATCH",
      headers: { "Content-Type": "application/json", "If-Match": current.etag },
      body: JSON.stringify(patch),
    });
    renderDetail(body, etag);
    say("Saved: " + Object.entries(patch).map(([k, v]) => `${k} = ${v || "(empty)"}`).join(", "), "ok");
  } catch (e) {
    if (e.status === 412) {
      const { body, etag } = await api("/anomalies/" + encodeURIComponent(id));
      renderDetail(body, etag);
      say("Someone changed this anomaly meanwhile; it is reloaded above. Check it, then press the button again.", "error");
    } else if (e.status === 403) {
      say("Not allowed: " + e.message + " (triage needs a token with the write scope).", "error");
    } else {
      say("Not saved: " + e.message, "error");
    }
  }
}

// ---- routing -------------------------------------------------------------

async function route() {
  say("");
  const h = location.hash || "#/";
  try {
    const m = h.match(/^#\/anomaly\/([^?]+)/);
    if (m) await showDetail(decodeURIComponent(m[1]));
    else await showOverview();
    document.body.dataset.ready = "1";
  } catch (e) {
    if (e.status !== 401) say((e.title ? e.title + ": " : "") + e.message, "error");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("filters");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    setFilters({ severity_min: form.elements.severity_min.value, status: form.elements.status.value, vm: form.elements.vm.value.trim() });
  });
  form.addEventListener("reset", () => setTimeout(() => setFilters({}), 0));
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = document.getElementById("token").value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    document.getElementById("token-form").hidden = true;
    showAuthState();
    route();
  });
  showAuthState();
  window.addEventListener("hashchange", route);
  route();
});
