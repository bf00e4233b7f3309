// compplan studio of an organisation: a tab per role, the organisation's total.
// The state lives in the URL: role=ID (the tab) and each role's modifiers as
// ID.set=... and ID.shift=... (compplan evaluate's), so Back undoes a change.
"use strict";

(function () {
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  let info = null, doc = null, seq = 0, evaluating = null, dragKey = null, lastField = null;
  const studio = window.__studio = { lastLatency: null };

  function pairsOf(search) {
    const out = [];
    for (const [k, v] of new URLSearchParams(search === undefined ? location.search : search)) {
      if (k === "role" || /^[^.]+\.(set|shift)$/.test(k)) out.push([k, v]);
    }
    return out;
  }
  function role(pairs) {
    const found = (pairs || pairsOf()).find(([k]) => k === "role");
    const id = found ? found[1] : info.first_role;
    return info.roles.some((r) => r.id === id) ? id : info.first_role;
  }
  function enc(text) {
    return encodeURIComponent(text).replace(/%3A/g, ":").replace(/%3E/g, ">")
      .replace(/%2C/g, ",").replace(/%3D/g, "=");
  }
  function queryOf(pairs) { return pairs.map(([k, v]) => k + "=" + enc(v)).join("&"); }
  function stateOf(pairs) { return queryOf(pairs.filter(([k]) => k !== "role")); }
  function go(pairs, push) {
    const url = "?token=" + enc(TOKEN) + "&" + queryOf(pairs);
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
    refresh();
  }
  function setModifier(key, value, push) {
    const r = role();
    let pairs = pairsOf();
    const last = pairs.length ? pairs[pairs.length - 1] : null;
    if (last && last[0] === r + ".set" && last[1].split("=")[0] === key) pairs = pairs.slice(0, -1);
    pairs.push([r + ".set", key + "=" + value]);
    go(pairs, push);
  }

  async function call(path, pairs, options) {
    const init = Object.assign({ headers: { "X-Compplan-Token": TOKEN } }, options || {});
    const response = await fetch(path + "?" + queryOf(pairs), init);
    let data = null;
    try { data = await response.json(); } catch (e) { data = { message: "HTTP " + response.status }; }
    return { status: response.status, data: data };
  }

  async function refresh() {
    const started = performance.now(), mine = ++seq;
    if (evaluating) evaluating.abort();
    evaluating = new AbortController();
    const pairs = pairsOf();
    document.body.dataset.busy = "1";
    let answer;
    try {
      answer = await call("/api/org/evaluate", pairs.filter(([k]) => k !== "role"), { signal: evaluating.signal });
    } catch (e) {
      if (e.name !== "AbortError") status("the studio does not answer: " + e.message, true);
      return;
    }
    if (mine !== seq) return;
    clearErrors();
    if (answer.status !== 200) {
      const errors = answer.data.errors || [];
      status(errors.map((e) => e.param + "=" + e.text + ": " + e.message).join("; ") || answer.data.message, true);
      renderModifiers(errors);
      if (lastField && errors.length) fieldError(lastField, errors[errors.length - 1].message);
    } else {
      doc = answer.data;
      render();
      studio.lastLatency = performance.now() - started;
      document.body.dataset.latency = studio.lastLatency.toFixed(1);
      status("figures in " + Math.round(studio.lastLatency) + " ms", false);
    }
    document.body.dataset.state = stateOf(pairs);
    document.body.dataset.role = role(pairs);
    document.body.dataset.busy = "0";
  }

  function status(text, bad) { $("status").textContent = text; $("status").className = bad ? "broken" : ""; }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      node.setAttribute(k, v === true ? "" : String(v));
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function clearErrors() {
    for (const e of document.querySelectorAll("[data-error-for]")) e.textContent = "";
    for (const e of document.querySelectorAll("[aria-invalid=true]")) e.setAttribute("aria-invalid", "false");
  }
  function fieldError(input, message) {
    const holder = input.closest("td") || input.parentElement;
    const slot = holder ? holder.querySelector("[data-error-for]") : null;
    if (slot) slot.textContent = message;
    input.setAttribute("aria-invalid", message ? "true" : "false");
  }
  function number(input, max, maxText) {
    const raw = input.value.trim(), value = Number(raw);
    lastField = input;
    let message = "";
    if (raw === "" || !Number.isFinite(value)) message = "'" + raw + "' is not a number";
    else if (value < 0) message = "must be 0 or more";
    else if (max !== undefined && value > max) message = maxText;
    fieldError(input, message);
    return message ? null : raw;
  }
  function cell(...children) {
    const td = el("td");
    td.append(...children, el("span", { class: "error", "data-error-for": "field", role: "alert" }));
    return td;
  }

  // ------------------------------------------------------------------ tabs and the role's table

  let built = null;
  function buildRole() {
    const r = info.roles.find((x) => x.id === role());
    if (built === r.id) return;  // never rebuild under a dragging hand
    built = r.id;
    $("role-title").textContent = "The plan of " + r.label;
    for (const b of $("tabs").querySelectorAll("button")) b.className = b.dataset.role === r.id ? "primary" : "";
    const body = $("metrics").querySelector("tbody");
    body.replaceChildren();
    for (const m of r.metrics) {
      const tr = el("tr", { "data-metric": m.id });
      const inPlan = el("input", { type: "checkbox", "aria-label": "in plan: " + m.label, "data-field": "in" });
      inPlan.addEventListener("change", () => { lastField = inPlan; setModifier("weight." + m.id, inPlan.checked ? "0.1" : "0", true); });
      const name = el("label", {}, " " + m.label);
      name.prepend(inPlan);
      tr.append(cell(name));
      const ws = el("input", { type: "range", min: 0, max: 1, step: 0.01, "aria-label": "weight slider: " + m.label, "data-field": "weight-slider" });
      const w = el("input", { type: "text", inputmode: "decimal", "aria-label": "weight: " + m.label, "data-field": "weight" });
      slider(ws, "weight." + m.id);
      w.addEventListener("change", () => { const raw = number(w, 1, "a weight is at most 1"); if (raw !== null) setModifier("weight." + m.id, raw, true); });
      tr.append(cell(ws, w));
      const as = el("input", { type: "range", min: 0, max: Math.max(r.design.accelerator_max * 1.5, 3), step: 0.05, "aria-label": "accelerator slider: " + m.label, "data-field": "accelerator-slider" });
      const a = el("input", { type: "text", inputmode: "decimal", "aria-label": "accelerator multiple: " + m.label, "data-field": "accelerator" });
      slider(as, "accelerator." + m.id);
      a.addEventListener("change", () => { const raw = number(a); if (raw !== null) setModifier("accelerator." + m.id, raw, true); });
      tr.append(cell(as, a));
      tr.append(el("td", { "data-field": "base" }), el("td", { "data-field": "rate" }));
      tr.append(el("td", { class: "muted" }, fmt(m.threshold * 100, 1) + "% / " + fmt(m.cap * 100, 1) + "%"));
      body.append(tr);
    }
  }
  function slider(input, key) {
    input.addEventListener("input", () => {
      lastField = input;
      const first = dragKey !== key;
      dragKey = key;
      setModifier(key, input.value, first);
    });
    input.addEventListener("change", () => { dragKey = null; });
  }

  function renderModifiers(errors) {
    const r = role(), list = $("modifiers"), pairs = pairsOf();
    list.replaceChildren();
    const counts = {};
    pairs.forEach(([k, v], i) => {
      if (k !== r + ".set" && k !== r + ".shift") return;
      const index = counts[k] = counts[k] === undefined ? 0 : counts[k] + 1;
      const li = el("li", { "data-param": k, "data-index": index }, "--" + k.split(".")[1] + " " + v + " ");
      const remove = el("button", { type: "button", "aria-label": "remove " + k + " " + v }, "×");
      remove.addEventListener("click", () => go(pairs.filter((_, j) => j !== i), true));
      li.append(remove);
      const error = (errors || []).find((e) => e.param === k && e.index === index);
      if (error) li.append(el("span", { class: "error", role: "alert" }, error.message));
      list.append(li);
    });
    if (!list.children.length) list.append(el("li", { class: "muted" }, "none: today's plan"));
  }

  // ------------------------------------------------------------------ figures

  function tile(label, key, value, shown, note, ok) {
    const t = el("div", { class: "tile" + (ok === true ? " ok" : ok === false ? " broken" : "") });
    t.append(el("div", { class: "label" }, label));
    t.append(el("div", { class: "value", "data-figure": key, "data-value": value === null || value === undefined ? "" : value }, shown));
    if (note) t.append(el("div", { class: "note" }, note));
    return t;
  }

  function render() {
    buildRole();
    const ev = doc.evaluation, r = role(), cur = ev.currency;
    const mine = ev.roles.find((x) => x.id === r);
    const byId = Object.fromEntries(mine.metrics.map((m) => [m.id, m]));
    for (const tr of $("metrics").querySelectorAll("tbody tr")) {
      const m = byId[tr.dataset.metric], f = (n) => tr.querySelector('[data-field="' + n + '"]');
      f("in").checked = !!m;
      if (!(dragKey && document.activeElement === f("weight-slider"))) f("weight-slider").value = m ? m.weight : 0;
      f("weight").value = m ? fmt(m.weight, 4) : "0";
      f("weight").dataset.figure = "weight." + tr.dataset.metric;
      f("weight").dataset.value = m ? m.weight : 0;
      if (!(dragKey && document.activeElement === f("accelerator-slider"))) f("accelerator-slider").value = m ? m.accelerator_multiple : 0;
      f("accelerator").value = m ? fmt(m.accelerator_multiple, 4) : "";
      f("base").textContent = m ? fmt(m.base_rate, 4) : "0";
      f("rate").textContent = m ? fmt(m.accelerator_rate, 4) : "0";
    }
    renderModifiers([]);
    const rev = mine.evaluation, broken = rev.design_rules.filter((x) => !x.ok);
    $("rules-out").replaceChildren(broken.length ? el("span", { class: "broken" }, "Breaks: " + broken.map((x) => x.message).join("; ")) : el("span", { class: "ok" }, "meets all " + rev.design_rules.length + " design rules"));
    $("role-tiles").replaceChildren(
      tile("Expected payout of the role", "roles." + r + ".expected_cost", rev.expected_cost, money(rev.expected_cost, cur), doc.roles[r].name),
      tile("Alignment of the role", "roles." + r + ".alignment", rev.alignment, fmt(rev.alignment, 4), "share of target incentive " + pct(mine.share)),
      tile("Bottom " + pct(rev.bottom_share) + " of the role's reps earn", "roles." + r + ".bottom_tail_mean", rev.bottom_tail_mean, pct(rev.bottom_tail_mean) + " of target"));
    const gbody = $("guardrails").querySelector("tbody");
    gbody.replaceChildren();
    for (const g of rev.guardrails) {
      const show = (v) => g.unit === "currency" ? money(v, cur) : g.unit === "share of target" ? pct(v) : fmt(v, 3);
      const tr = el("tr", { "data-figure": r + "." + g.setting, "data-value": g.value, "data-ok": g.ok ? "true" : "false" });
      tr.append(el("td", {}, g.setting), el("td", {}, show(g.value)), el("td", {}, (g.upper ? "≤ " : "≥ ") + show(g.limit)), el("td", { class: g.ok ? "ok" : "broken" }, g.ok ? "met" : "broken"));
      gbody.append(tr);
    }
    const o1 = ev.checks.find((c) => c.rule === "O1"), o2 = ev.checks.find((c) => c.rule === "O2");
    $("tiles").replaceChildren(
      tile("Expected payout of the organisation " + info.per, "objective.expected_cost", ev.objective.expected_cost, money(ev.objective.expected_cost, cur), o1 ? (o1.ok ? "met: " : "broken: ") + "cap " + money(o1.limit, cur) : "no cap", o1 ? o1.ok : undefined),
      tile("CVaR " + fmt(ev.total.cvar_level, 2) + " of the total", "total.cvar", ev.total.cvar, money(ev.total.cvar, cur), o2 ? (o2.ok ? "met: " : "broken: ") + "cap " + money(o2.limit, cur) : "no cap", o2 ? o2.ok : undefined),
      tile("P90 of the total", "total.p90", ev.total.p90, money(ev.total.p90, cur), "P10 " + money(ev.total.p10, cur)),
      tile("Alignment of the organisation", "objective.alignment", ev.objective.alignment, fmt(ev.objective.alignment, 4), ev.ok ? "every rule met" : "a rule is broken", ev.ok));
    const cbody = $("checks").querySelector("tbody");
    cbody.replaceChildren();
    for (const c of ev.checks) {
      const tr = el("tr", { "data-figure": c.setting, "data-value": c.value === null ? "" : c.value, "data-ok": c.ok ? "true" : "false" });
      tr.append(el("td", {}, c.label), el("td", { class: "text" }, c.detail), el("td", { class: c.ok ? "ok" : "broken" }, c.ok ? "met" : "broken"));
      cbody.append(tr);
    }
    const rbody = $("roles").querySelector("tbody");
    rbody.replaceChildren();
    for (const x of ev.roles) {
      const tr = el("tr", { "data-figure": "roles." + x.id, "data-value": x.expected_cost });
      const open = el("button", { type: "button" }, x.label);
      open.addEventListener("click", () => go([["role", x.id]].concat(pairsOf().filter(([k]) => k !== "role")), true));
      const td = el("td"); td.append(open);
      tr.append(td, el("td", {}, doc.roles[x.id].name), el("td", {}, money(x.expected_cost, cur)), el("td", {}, fmt(x.alignment, 4)), el("td", { class: x.guardrails_ok ? "ok" : "broken" }, x.guardrails_ok ? "met" : "broken"));
      rbody.append(tr);
    }
    const table = $("conflicts"), head = el("tr");
    head.append(el("th", {}, "goal (priority)"));
    for (const x of ev.roles) head.append(el("th", {}, x.label));
    const thead = el("thead"); thead.append(head);
    const tbody = el("tbody");
    for (const g of ev.conflict_map) {
      const tr = el("tr", { "data-figure": "conflict_map." + g.goal });
      tr.append(el("td", {}, g.goal + " (" + fmt(g.priority, 2) + ")"));
      for (const c of g.cells) tr.append(el("td", { class: c.direction === "against" || c.direction === "both" ? "broken" : c.direction === "serves" ? "ok" : "", "data-figure": "conflict_map." + g.goal + "." + c.role, "data-value": c.direction }, c.direction));
      tbody.append(tr);
    }
    table.replaceChildren(thead, tbody);
  }

  function fmt(v, digits) {
    if (v === null || v === undefined) return "—";
    const text = Number(v).toFixed(digits);
    return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  }
  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function money(v, cur) { return v === null || v === undefined ? "—" : Math.round(v).toLocaleString("en-US") + " " + (cur || ""); }

  window.addEventListener("popstate", () => refresh());
  window.addEventListener("DOMContentLoaded", async () => {
    const answer = await call("/api/org/case", []);
    if (answer.status !== 200) { status("cannot read the organisation", true); return; }
    info = answer.data;
    for (const r of info.roles) {
      const b = el("button", { type: "button", "data-role": r.id }, r.label);
      b.addEventListener("click", () => go([["role", r.id]].concat(pairsOf().filter(([k]) => k !== "role")), true));
      $("tabs").append(b);
    }
    $("reset").addEventListener("click", () => go(pairsOf().filter(([k]) => !k.startsWith(role() + ".")), true));
    $("reset-all").addEventListener("click", () => go([["role", role()]], true));
    refresh();
  });
})();
