// mamori triage console: lists the sensor's recent alerts, sets their
// triage state and downloads their packets. The token stays in this tab's
// sessionStorage and goes only to this sensor, in the Authorization header.
"use strict";

const $ = (id) => document.getElementById(id);
const sev = ["", "low", "medium", "high", "critical"];

function token() { return sessionStorage.getItem("mamori-token") || ""; }

async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + token() }, opts.headers || {});
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  if (!res.ok) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

function show(msg) { $("message").textContent = msg || ""; }

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

async function load() {
  if (!token()) { show("Sign in with an API token (mamori api token add NAME viewer)."); return; }
  $("login").hidden = true;
  $("logout").hidden = false;
  try {
    const st = await (await api("/api/v1/status")).json();
    $("sensor").textContent = (st.sensor || "") + " " + (st.version || "");
    const q = new URLSearchParams({ limit: "500" });
    if ($("status").value) q.set("status", $("status").value);
    const data = await (await api("/api/v1/alerts?" + q)).json();
    $("counts").textContent = Object.entries(data.counts || {}).map(([k, v]) => k + ": " + v).join("  ");
    render(data.alerts || []);
    show("");
  } catch (e) { show(e.message); }
}

function render(items) {
  const body = $("alerts").tBodies[0];
  body.replaceChildren();
  for (const it of items) {
    const a = it.alert;
    const tr = document.createElement("tr");
    tr.className = "sev-" + (a.event && a.event.severity);
    cell(tr, new Date(a["@timestamp"]).toLocaleString());
    cell(tr, sev[(a.event && a.event.severity) || 0] || "");
    cell(tr, (a.rule && a.rule.name) || "");
    cell(tr, ((a.related && a.related.ip) || []).slice(0, 4).join(", "));
    cell(tr, (a.message || "").split("\n")[0]);
    const sel = document.createElement("select");
    for (const s of ["new", "acknowledged", "investigating", "resolved", "false_positive"]) {
      const o = document.createElement("option");
      o.value = o.textContent = s;
      sel.appendChild(o);
    }
    sel.value = it.triage.status;
    sel.title = it.triage.who ? it.triage.who + " " + it.triage.at + (it.triage.note ? ": " + it.triage.note : "") : "";
    sel.addEventListener("click", (ev) => ev.stopPropagation());
    sel.addEventListener("change", () => triage(it.id, sel.value));
    cell(tr, "").appendChild(sel);
    const btn = document.createElement("button");
    btn.textContent = "pcap";
    btn.addEventListener("click", (ev) => { ev.stopPropagation(); pcap(it.id); });
    cell(tr, "").appendChild(btn);
    tr.addEventListener("click", () => detail(a));
    body.appendChild(tr);
  }
}

function detail(a) {
  $("detail").hidden = false;
  $("detail-title").textContent = (a.rule && a.rule.name) + " — " + a["@timestamp"];
  $("detail-message").textContent = a.message || "";
  $("detail-message-ja").textContent = (a.mamori && a.mamori.alert && a.mamori.alert.message_ja) || "";
  const dl = $("detail-facts");
  dl.replaceChildren();
  const ev = (a.mamori && a.mamori.alert && a.mamori.alert.evidence) || {};
  const rows = (ev.facts || []).map((f) => [f.name, f.value]);
  if (ev.targets) rows.push(["targets (" + (ev.target_count || ev.targets.length) + ")", ev.targets.join(", ")]);
  const pq = a.mamori && a.mamori.alert && a.mamori.alert.pcap;
  if (pq) rows.push(["pcap query", pq.command || pq.query]);
  for (const [k, v] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    dl.append(dt, dd);
  }
  $("detail-json").textContent = JSON.stringify(a, null, 2);
}

async function triage(id, status) {
  const note = prompt("Note for the triage log (optional):") || "";
  try {
    await api("/api/v1/alerts/" + id + "/triage", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ status, note }),
    });
    load();
  } catch (e) { show(e.message); }
}

async function pcap(id) {
  const why = prompt("Why are these packets needed? (case or ticket number; it goes to the audit log)");
  if (!why) return;
  try {
    const res = await api("/api/v1/alerts/" + id + "/pcap?why=" + encodeURIComponent(why));
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "mamori-alert-" + id + ".pcap";
    a.click();
    URL.revokeObjectURL(a.href);
  } catch (e) { show(e.message); }
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("mamori-token", $("token").value.trim());
  $("token").value = "";
  load();
});
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem("mamori-token");
  $("login").hidden = false;
  $("logout").hidden = true;
  $("alerts").tBodies[0].replaceChildren();
});
$("refresh").addEventListener("click", load);
$("status").addEventListener("change", load);
load();
setInterval(() => { if (token()) load(); }, 30000);
