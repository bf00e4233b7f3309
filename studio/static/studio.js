// compplan studio: the page's script. No library, no network beyond the studio's own endpoints.
// The state lives in the URL (compplan evaluate's modifiers, plus limits and locks);
// every change is a new history entry, so Back undoes it.
"use strict";

(function () {
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const STATE_KEYS = ["plan", "round", "set", "shift", "limit", "lock", "require", "forbid"];
  const PALETTE = "#0072B2", CURRENT = "#6b7280", LIMIT = "#c62828";
  const $ = (id) => document.getElementById(id);
  let info = null, doc = null, evaluating = null, solving = null, dragKey = null;
  let candidates = [], seq = 0;
  const studio = window.__studio = { lastLatency: null, evaluations: 0 };

  // ------------------------------------------------------------------ state and URL

  function statePairs(search) {
    const pairs = [];
    for (const [k, v] of new URLSearchParams(search === undefined ? location.search : search)) {
      if (STATE_KEYS.includes(k)) pairs.push([k, v]);
    }
    if (!pairs.some(([k]) => k === "plan")) pairs.unshift(["plan", info ? info.first_plan : "current"]);
    return pairs;
  }
  function enc(text) {
    return encodeURIComponent(text).replace(/%3A/g, ":").replace(/%3E/g, ">")
      .replace(/%2C/g, ",").replace(/%3D/g, "=").replace(/%2F/g, "/");
  }
  function queryOf(pairs) { return pairs.map(([k, v]) => k + "=" + enc(v)).join("&"); }
  function go(pairs, push) {
    const url = "?token=" + enc(TOKEN) + "&" + queryOf(pairs);
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
    refresh();
  }
  function get(pairs, key) { const p = pairs.find(([k]) => k === key); return p ? p[1] : null; }
  function without(pairs, test) { return pairs.filter((p) => !test(p)); }

  function setModifier(key, value, push) {
    // A new value of the last modifier replaces it (a slider drag is one change).
    let pairs = statePairs();
    const last = pairs.length ? pairs[pairs.length - 1] : null;
    if (last && last[0] === "set" && last[1].split("=")[0] === key) pairs = pairs.slice(0, -1);
    pairs.push(["set", key + "=" + value]);
    go(pairs, push);
  }

  // ------------------------------------------------------------------ requests

  async function call(path, pairs, options) {
    const init = Object.assign({ headers: { "X-Compplan-Token": TOKEN } }, options || {});
    if (init.body) init.headers["Content-Type"] = "application/json";
    const response = await fetch(path + "?" + queryOf(pairs), init);
    let data = null;
    try { data = await response.json(); } catch (e) { data = { message: "HTTP " + response.status }; }
    return { status: response.status, data: data };
  }

  async function refresh() {
    const started = performance.now();
    const mine = ++seq;
    if (evaluating) evaluating.abort();
    evaluating = new AbortController();
    const pairs = statePairs();
    document.body.dataset.busy = "1";
    let answer;
    try {
      answer = await call("/api/evaluate", pairs, { signal: evaluating.signal });
    } catch (e) {
      if (e.name !== "AbortError") status("the studio does not answer: " + e.message, true);
      return;
    }
    if (mine !== seq) return;
    if (answer.status === 409 && answer.data.needs_solve) {
      await solve(pairs, false);
      return;
    }
    if (answer.status === 409 && answer.data.solve) { showSolve(answer.data.solve); status(answer.data.message, true); done(pairs); return; }
    if (answer.status !== 200) { showErrors(answer.data.errors || [], answer.data.message); done(pairs); return; }
    clearErrors();
    doc = answer.data;
    render(doc);
    studio.lastLatency = performance.now() - started;
    studio.evaluations += 1;
    document.body.dataset.latency = studio.lastLatency.toFixed(1);
    status("figures in " + Math.round(studio.lastLatency) + " ms", false);
    if (info.actuals) await pulse(pairs, mine);
    done(pairs);
  }

  async function pulse(pairs, mine) {
    // The year so far under the plan on screen (compplan pulse, without the re-tune).
    let answer;
    try { answer = await call("/api/pulse", pairs, { signal: evaluating.signal }); } catch (e) { return; }
    if (mine !== seq) return;
    const box = $("pulse");
    box.hidden = false;
    $("pulse-source").textContent = "(" + info.actuals + ")";
    if (answer.status !== 200) {
      $("pulse-tiles").replaceChildren(el("p", { class: "broken" }, (answer.data.errors || []).map((e) => e.message).join("; ") || answer.data.message));
      $("pulse-guardrails").querySelector("tbody").replaceChildren();
      return;
    }
    const p = answer.data, cur = doc.currency;
    const over = p.year_budget !== null && p.year_budget !== undefined ? p.forecast_year_total > p.year_budget : null;
    $("pulse-tiles").replaceChildren(
      tile("Paid to date (" + p.periods_elapsed + " of " + p.periods_in_year + " periods)", "pulse.paid_to_date", p.paid_to_date, money(p.paid_to_date, cur), "expected " + money(p.expected_to_date, cur)),
      tile("Forecast for the year", "pulse.forecast_year_total", p.forecast_year_total, money(p.forecast_year_total, cur), over === null ? "no budget" : (over ? "broken: " : "met: ") + "budget " + money(p.year_budget, cur), over === null ? undefined : !over),
      tile("Paid so far, percentile of the design", "pulse.paid_percentile", p.paid_percentile, fmt(p.paid_percentile, 0), "P10–P90 of the year: " + compact(p.forecast_band.p10) + " – " + compact(p.forecast_band.p90)));
    const body = $("pulse-guardrails").querySelector("tbody");
    body.replaceChildren();
    for (const g of p.guardrails) {
      const show = (v) => v === null || v === undefined ? "—" : g.unit === "currency" ? money(v, cur) : g.unit === "share of target" ? pct(v) : fmt(v, 3);
      const tr = el("tr", { "data-figure": "pulse." + g.setting, "data-value": g.projected === null ? "" : g.projected, "data-ok": g.ok_projected ? "true" : "false" });
      tr.append(el("td", {}, g.setting), el("td", {}, show(g.now)), el("td", {}, show(g.projected)), el("td", {}, show(g.limit)),
        el("td", { class: g.ok_projected ? "ok" : "broken" }, g.ok_projected ? "met" : "broken"));
      body.append(tr);
    }
  }
  function done(pairs) {
    document.body.dataset.state = queryOf(pairs);
    document.body.dataset.busy = "0";
  }

  function status(text, bad) {
    const el = $("status");
    el.textContent = text;
    el.className = bad ? "broken" : "";
  }

  // ------------------------------------------------------------------ errors next to fields

  function clearErrors() {
    for (const el of document.querySelectorAll("[data-error-for]")) el.textContent = "";
    for (const el of document.querySelectorAll("[aria-invalid=true]")) el.setAttribute("aria-invalid", "false");
  }
  function fieldError(el, message) {
    const holder = el ? (el.closest("td") || el.parentElement) : null;
    const slot = holder ? holder.querySelector("[data-error-for]") : null;
    if (slot) slot.textContent = message;
    if (el) el.setAttribute("aria-invalid", message ? "true" : "false");
  }
  function showErrors(errors, message) {
    clearErrors();
    renderModifiers(errors);
    const text = errors.map((e) => e.param + "=" + e.text + ": " + e.message).join("; ") || message || "error";
    status(text, true);
    if (lastField) fieldError(lastField, errors.length ? errors[errors.length - 1].message : text);
    for (const e of errors) {
      if (e.param === "limit") {
        const key = (e.text || "").split("=")[0];
        const input = document.querySelector('[data-limit="' + key + '"]');
        if (input) fieldError(input, e.message);
      }
    }
  }
  let lastField = null;

  function number(el, rules) {
    // Check a typed value before it becomes state: shown next to the field when wrong.
    const raw = el.value.trim();
    lastField = el;
    if (raw === "" && rules.blank) return "none";
    const value = Number(raw);
    let message = "";
    if (raw === "" || !Number.isFinite(value)) message = "'" + raw + "' is not a number";
    else if (value < 0) message = "must be 0 or more";
    else if (rules.max !== undefined && value > rules.max) message = rules.maxText || ("at most " + rules.max);
    else if (rules.positive && value <= 0) message = "must be more than 0";
    else if (rules.whole && !Number.isInteger(value)) message = "a whole number";
    fieldError(el, message);
    return message ? null : raw;
  }

  // ------------------------------------------------------------------ building the page

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      node.setAttribute(k, v === true ? "" : String(v));
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function build() {
    const start = $("start");
    for (const name of info.plans) start.append(el("option", { value: name }, name === "current" ? "the current plan" : name));
    for (const name of info.solved) start.append(el("option", { value: name }, name));
    start.addEventListener("change", () => go([["plan", start.value]].concat(
      without(statePairs(), ([k]) => ["plan", "round", "set", "shift"].includes(k))), true));
    const body = $("metrics").querySelector("tbody");
    for (const m of info.metrics) {
      const tr = el("tr", { "data-metric": m.id });
      const inPlan = el("input", { type: "checkbox", "aria-label": "in plan: " + m.label, "data-field": "in" });
      inPlan.addEventListener("change", () => { lastField = inPlan; setModifier("weight." + m.id, inPlan.checked ? "0.1" : "0", true); });
      const name = el("label", {}, " " + m.label);
      name.prepend(inPlan);
      tr.append(cell(name));
      const weightSlider = el("input", { type: "range", min: 0, max: 1, step: 0.01, "aria-label": "weight slider: " + m.label, "data-field": "weight-slider" });
      const weight = el("input", { type: "text", inputmode: "decimal", "aria-label": "weight: " + m.label, "data-field": "weight" });
      slider(weightSlider, "weight." + m.id);
      typed(weight, "weight." + m.id, { max: 1, maxText: "a weight is at most 1" });
      tr.append(cell(weightSlider, weight));
      const accSlider = el("input", { type: "range", min: 0, max: Math.max(info.design.accelerator_max * 1.5, 3), step: 0.05, "aria-label": "accelerator slider: " + m.label, "data-field": "accelerator-slider" });
      const acc = el("input", { type: "text", inputmode: "decimal", "aria-label": "accelerator multiple: " + m.label, "data-field": "accelerator" });
      slider(accSlider, "accelerator." + m.id);
      typed(acc, "accelerator." + m.id, {});
      tr.append(cell(accSlider, acc));
      const base = el("input", { type: "text", inputmode: "decimal", "aria-label": "base rate: " + m.label, "data-field": "base" });
      base.addEventListener("change", () => {
        const raw = number(base, { max: 1 / (1 - m.threshold), maxText: "at most " + fmt(1 / (1 - m.threshold), 3) + " (a weight of 1)" });
        if (raw !== null) setModifier("weight." + m.id, String(Number(raw) * (1 - m.threshold)), true);
      });
      tr.append(cell(base));
      const rate = el("input", { type: "text", inputmode: "decimal", "aria-label": "accelerator rate: " + m.label, "data-field": "rate" });
      typed(rate, "rate." + m.id, {});
      tr.append(cell(rate));
      // The case's threshold and cap: what a what-if keeps (a plan file may write its own).
      tr.append(el("td", { class: "muted", title: "[metrics." + m.id + "] threshold and cap of case.toml", "data-figure": "threshold." + m.id, "data-value": m.threshold }, fmt(m.threshold * 100, 1) + "% / " + fmt(m.cap * 100, 1) + "%"));
      const lock = el("input", { type: "checkbox", "aria-label": "lock the weight of " + m.label, "data-field": "lock" });
      lock.addEventListener("change", () => {
        const pairs = without(statePairs(), ([k, v]) => k === "lock" && v.split("=")[0] === m.id);
        if (lock.checked) pairs.push(["lock", m.id + "=" + currentWeight(m.id)]);
        go(pairs, true);
      });
      const rule = el("select", { "aria-label": "rule for " + m.label, "data-field": "rule" });
      for (const [v, t] of [["", "—"], ["require", "require"], ["forbid", "forbid"]]) rule.append(el("option", { value: v }, t));
      rule.addEventListener("change", () => {
        const pairs = without(statePairs(), ([k, v]) => (k === "require" || k === "forbid") && v === m.id);
        if (rule.value) pairs.push([rule.value, m.id]);
        go(pairs, true);
      });
      tr.append(cell(el("label", { title: "Optimise keeps this weight" }, "lock "), rule));
      tr.lastChild.firstChild.append(lock);
      body.append(tr);
    }
    for (const id of ["shift-from", "shift-to"]) for (const m of info.metrics) $(id).append(el("option", { value: m.id }, m.label));
    $("shift-to").selectedIndex = Math.min(1, info.metrics.length - 1);
    $("shift-add").addEventListener("click", () => {
      const amount = $("shift-amount");
      const raw = number(amount, { max: 1, maxText: "a shift is at most 1" });
      $("shift-error").textContent = "";
      if (raw === null) { $("shift-error").textContent = amount.parentElement.querySelector("[data-error-for]") ? "" : "not a number from 0 to 1"; return; }
      go(statePairs().concat([["shift", raw + ":" + $("shift-from").value + "->" + $("shift-to").value]]), true);
    });
    $("shift-amount").parentElement.append(el("span", { class: "error", "data-error-for": "shift-amount", role: "alert" }));
    const limits = $("limits");
    for (const [key, spec] of Object.entries(info.limits)) {
      const label = el("label", {}, key);
      const input = el("input", { type: "text", inputmode: "decimal", "data-limit": key, "data-figure": "limit." + key, placeholder: "none", title: spec.allowed });
      input.addEventListener("change", () => {
        const raw = number(input, { blank: true, positive: !key.startsWith("fairness.") || key === "fairness.top_ratio", whole: key === "design.max_metrics", max: key === "design.max_metrics" ? 3 : undefined });
        if (raw === null) return;
        const pairs = without(statePairs(), ([k, v]) => k === "limit" && v.split("=")[0] === key);
        const original = spec.value === null ? "none" : String(spec.value);
        if (!(raw === original || (raw !== "none" && original !== "none" && Number(raw) === Number(original)))) pairs.push(["limit", key + "=" + raw]);
        go(pairs, true);
      });
      const wrap = el("div");
      wrap.append(label, input, el("span", { class: "error", "data-error-for": key, role: "alert" }));
      limits.append(wrap);
    }
    $("reset").addEventListener("click", () => go([["plan", info.first_plan]], true));
    $("keep").addEventListener("click", () => keep());
    $("optimise").addEventListener("click", () => startSolve("optimised"));
    $("round").addEventListener("click", () => startSolve("rounded"));
    $("min-budget").addEventListener("click", () => startSolve("min-budget"));
    $("stop").addEventListener("click", () => { if (solving) solving.abort(); });
    $("compare").addEventListener("click", () => compare());
    $("save").addEventListener("click", () => write("/api/save", { path: $("save-path").value }, "save-error"));
    $("report").addEventListener("click", () => write("/api/export", { kind: "report", path: $("report-path").value }, "report-error"));
    $("workbook").addEventListener("click", () => write("/api/export", { kind: "workbook", path: $("workbook-path").value }, "workbook-error"));
    candidates.push({ name: info.first_plan === "current" ? "current" : info.first_plan, state: queryOf([["plan", info.first_plan]]), fixed: true });
    renderCandidates();
  }

  function cell(...children) {
    const td = el("td");
    td.append(...children, el("span", { class: "error", "data-error-for": "field", role: "alert" }));
    return td;
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
  function typed(input, key, rules) {
    input.addEventListener("change", () => {
      const raw = number(input, rules);
      if (raw !== null) setModifier(key, raw, true);
    });
  }
  function currentWeight(id) {
    const m = doc ? doc.plan.metrics.find((x) => x.id === id) : null;
    return m ? String(m.weight) : "0";
  }

  // ------------------------------------------------------------------ solving

  function startSolve(kind) {
    lastField = kind === "rounded" ? $("round-grid") : null;
    let pairs = without(statePairs(), ([k]) => ["plan", "round", "set", "shift"].includes(k));
    const head = [["plan", kind]];
    if (kind === "rounded") head.push(["round", $("round-grid").value.trim()]);
    pairs = head.concat(pairs);
    solve(pairs, true);
  }

  async function solve(pairs, push) {
    if (solving) solving.abort();
    solving = new AbortController();
    $("stop").hidden = false;
    for (const id of ["optimise", "round", "min-budget"]) $(id).disabled = true;
    status("solving (" + get(pairs, "plan") + ")…", false);
    document.body.dataset.busy = "1";
    let answer;
    try {
      answer = await call("/api/solve", pairs, { method: "POST", signal: solving.signal });
    } catch (e) {
      answer = null;
      status(e.name === "AbortError" ? "solve stopped" : "the studio does not answer: " + e.message, true);
    }
    solving = null;
    $("stop").hidden = true;
    for (const id of ["optimise", "round", "min-budget"]) $(id).disabled = false;
    if (!answer) { document.body.dataset.busy = "0"; return; }
    if (answer.status === 400) { showErrors(answer.data.errors || []); document.body.dataset.busy = "0"; return; }
    showSolve(answer.data);
    if (answer.data.ok) {
      if (push) go(pairs, true); else refresh();
    } else {
      status(answer.data.message, true);
      document.body.dataset.busy = "0";
      document.body.dataset.solve = answer.data.status;
    }
  }

  function showSolve(solved) {
    const box = $("solve-out");
    box.hidden = false;
    box.replaceChildren();
    box.className = "box" + (solved.status === "infeasible" || solved.status === "error" ? " broken" : "");
    box.dataset.status = solved.status;
    box.append(el("p", { "data-figure": "solve.status", "data-value": solved.status }, solved.message + (solved.seconds ? " (" + fmt(solved.seconds, 2) + " s)" : "")));
    const d = solved.diagnosis;
    if (d) {
      box.append(el("p", {}, "Why no plan fits:"));
      const list = el("ul", { id: "diagnosis" });
      for (const c of d.conflict || []) list.append(el("li", { "data-figure": "diagnosis.conflict" }, c.setting + (c.guardrail ? " (" + c.guardrail + ")" : "")));
      for (const line of d.explanation || []) list.append(el("li", {}, typeof line === "string" ? line : JSON.stringify(line)));
      if (d.smallest_fix) list.append(el("li", { "data-figure": "diagnosis.smallest_fix" }, "smallest fix: " + JSON.stringify(d.smallest_fix)));
      box.append(list);
    }
    if (solved.rounding) {
      const r = solved.rounding;
      box.append(el("p", { "data-figure": "rounding.alignment_lost", "data-value": r.alignment_lost }, "rounding costs " + fmt(r.alignment_lost, 6) + " of alignment"));
    }
  }

  // ------------------------------------------------------------------ figures

  function render(d) {
    $("plan-name").textContent = "Plan: " + d.plan.name + ".";
    document.body.dataset.plan = d.plan.name;
    const byId = Object.fromEntries(d.plan.metrics.map((m) => [m.id, m]));
    const pairs = statePairs();
    for (const tr of $("metrics").querySelectorAll("tbody tr")) {
      const id = tr.dataset.metric, m = byId[id];
      const f = (name) => tr.querySelector('[data-field="' + name + '"]');
      f("in").checked = !!m;
      put(f("weight-slider"), m ? m.weight : 0, true);
      put(f("weight"), m ? fmt(m.weight, 4) : "0");
      put(f("accelerator-slider"), m ? m.accelerator_multiple : 0, true);
      put(f("accelerator"), m ? fmt(m.accelerator_multiple, 4) : "");
      put(f("base"), m ? fmt(m.base_rate, 4) : "0");
      put(f("rate"), m ? fmt(m.accelerator_rate, 4) : "0");
      for (const name of ["weight", "accelerator", "base", "rate"]) {
        f(name).dataset.figure = name === "weight" ? "weight." + id : name === "accelerator" ? "accelerator_multiple." + id : name === "base" ? "base_rate." + id : "accelerator_rate." + id;
        f(name).dataset.value = m ? (name === "weight" ? m.weight : name === "accelerator" ? m.accelerator_multiple : name === "base" ? m.base_rate : m.accelerator_rate) : 0;
      }
      f("lock").checked = pairs.some(([k, v]) => k === "lock" && v.split("=")[0] === id);
      const rule = pairs.find(([k, v]) => (k === "require" || k === "forbid") && v === id);
      f("rule").value = rule ? rule[0] : "";
    }
    $("start").value = get(pairs, "plan");
    for (const input of document.querySelectorAll("[data-limit]")) {
      const v = d.limits[input.dataset.limit];
      put(input, v === null || v === undefined ? "" : String(v));
      input.dataset.value = v === null || v === undefined ? "" : v;
    }
    renderModifiers([]);
    const ev = d.evaluation;
    const broken = ev.design_rules.filter((r) => !r.ok);
    $("rules-out").replaceChildren(broken.length ? el("span", { class: "broken", "data-figure": "design_rules", "data-value": broken.length }, "Breaks: " + broken.map((r) => r.message).join("; ")) : el("span", { class: "ok", "data-figure": "design_rules", "data-value": 0 }, "meets all " + ev.design_rules.length + " design rules"));
    const notes = new Map();
    for (const r of broken) {
      // A broken design rule is named next to the fields it is about.
      const rows = r.metric ? [r.metric] : r.name === "weights_sum" ? d.plan.metrics.map((m) => m.id) : [];
      const field = r.name.startsWith("accelerator") ? "accelerator" : "weight";
      for (const id of rows) {
        const input = document.querySelector('tr[data-metric="' + id + '"] [data-field="' + field + '"]');
        if (input) notes.set(input, (notes.has(input) ? notes.get(input) + "; " : "") + r.message);
      }
    }
    for (const [input, text] of notes) fieldError(input, text);
    renderTiles(d);
    renderGuardrails(ev);
    renderSegments(d);
    charts(d);
  }
  function put(input, value, isSlider) {
    if (document.activeElement === input && !isSlider) return; // never fight the typing hand
    if (isSlider && dragKey !== null && document.activeElement === input) return;
    input.value = value;
  }

  function renderModifiers(errors) {
    const list = $("modifiers");
    list.replaceChildren();
    const pairs = statePairs();
    const counts = {};
    pairs.forEach(([k, v], i) => {
      if (k !== "set" && k !== "shift") return;
      const index = counts[k] = (counts[k] === undefined ? 0 : counts[k] + 1);
      const li = el("li", { "data-param": k, "data-index": index }, "--" + k + " " + v + " ");
      const remove = el("button", { type: "button", "aria-label": "remove " + k + " " + v }, "×");
      remove.addEventListener("click", () => go(pairs.filter((_, j) => j !== i), true));
      li.append(remove);
      const error = errors.find((e) => e.param === k && e.index === index);
      if (error) li.append(el("span", { class: "error", role: "alert" }, error.message));
      list.append(li);
    });
    if (!list.children.length) list.append(el("li", { class: "muted" }, "none: the plan as it starts"));
  }

  function tile(label, key, value, shown, note, ok) {
    const t = el("div", { class: "tile" + (ok === true ? " ok" : ok === false ? " broken" : "") });
    t.append(el("div", { class: "label" }, label));
    t.append(el("div", { class: "value", "data-figure": key, "data-value": value === null || value === undefined ? "" : value }, shown));
    if (note) t.append(el("div", { class: "note" }, note));
    return t;
  }

  function renderTiles(d) {
    const ev = d.evaluation, cur = d.currency, per = d.per;
    const g = Object.fromEntries(ev.guardrails.map((x) => [x.name, x]));
    const tiles = [];
    const capNote = (check) => check ? (check.ok ? "met: " : "broken: ") + "cap " + money(check.limit, cur) : "no cap";
    tiles.push(tile("Expected payout " + per, "expected_cost", ev.expected_cost, money(ev.expected_cost, cur), capNote(g.budget_expected), g.budget_expected ? g.budget_expected.ok : undefined));
    tiles.push(tile("P90 of total payout", "total_p90", ev.total_p90, money(ev.total_p90, cur), g.budget_cvar ? "CVaR cap " + money(g.budget_cvar.limit, cur) : "P10 " + money(ev.total_p10, cur)));
    if (ev.cvar !== null && ev.cvar !== undefined) tiles.push(tile("CVaR " + fmt(ev.cvar_level, 2) + " of total payout", "cvar", ev.cvar, money(ev.cvar, cur), capNote(g.budget_cvar), g.budget_cvar ? g.budget_cvar.ok : undefined));
    else tiles.push(tile("CVaR " + fmt(ev.total_cvar_level, 2) + " of total payout", "total_cvar", ev.total_cvar, money(ev.total_cvar, cur), "no CVaR cap"));
    const r = d.readings;
    tiles.push(tile("Expected alignment", "alignment", ev.alignment, fmt(ev.alignment, 4), r && r.of_best !== null && r.of_best !== undefined ? pct(r.of_best) + " of the best plan" : "best plan: not known yet"));
    tiles.push(tile("Of the best plan", "of_best", r ? r.of_best : null, r && r.of_best !== null && r.of_best !== undefined ? pct(r.of_best) : "—", "best within the case's guardrails"));
    tiles.push(tile("Toward the strategy", "toward_strategy", r ? r.toward_strategy : null, r ? pct(r.toward_strategy) : "—", "share of incentive on aligned metrics"));
    tiles.push(tile("Reps at or above target", "share_reps_at_or_above_target", ev.share_reps_at_or_above_target, pct(ev.share_reps_at_or_above_target), "mean pay " + pct(ev.mean_payout_share) + " of target"));
    tiles.push(tile("Bottom " + pct(ev.bottom_share) + " of reps earn", "bottom_tail_mean", ev.bottom_tail_mean, pct(ev.bottom_tail_mean) + " of target", g.fairness_bottom ? (g.fairness_bottom.ok ? "met: " : "broken: ") + "floor " + pct(g.fairness_bottom.limit) : "no floor", g.fairness_bottom ? g.fairness_bottom.ok : undefined));
    if (ev.cost_of_sales !== undefined && ev.cost_of_sales !== null) tiles.push(tile("Cost of sales", "cost_of_sales", ev.cost_of_sales, pct(ev.cost_of_sales), "of expected revenue"));
    if (d.plan.source === "min-budget") tiles.push(tile("Min budget: the least cap", "min_budget", ev.expected_cost, money(ev.expected_cost, cur), "the cheapest plan meeting every other rule"));
    $("tiles").replaceChildren(...tiles);
    const box = $("response");
    if (d.response) {
      // MODEL.md section 10: the figures under response, beside the static ones.
      box.hidden = false;
      box.replaceChildren(el("h3", {}, "Under response"));
      const grid = el("div", { class: "tiles" });
      for (const [k, v] of Object.entries(d.response)) {
        if (typeof v === "number") grid.append(tile(k + " (under response)", "response." + k, v, Math.abs(v) > 1000 ? money(v, cur) : fmt(v, 4), ev[k] !== undefined && typeof ev[k] === "number" ? "static: " + (Math.abs(ev[k]) > 1000 ? money(ev[k], cur) : fmt(ev[k], 4)) : ""));
      }
      box.append(grid);
    } else box.hidden = true;
  }

  function renderGuardrails(ev) {
    const body = $("guardrails").querySelector("tbody");
    body.replaceChildren();
    for (const c of ev.guardrails) {
      const money_ = c.unit === "currency";
      const show = (v) => money_ ? money(v, doc.currency) : c.unit === "share of target" ? pct(v) : fmt(v, 3) + (c.unit.startsWith("x") ? "×" : "");
      const tr = el("tr", { "data-figure": c.setting, "data-value": c.value, "data-limit": c.limit, "data-ok": c.ok ? "true" : "false" });
      tr.append(el("td", {}, c.setting), el("td", {}, show(c.value)), el("td", {}, (c.upper ? "≤ " : "≥ ") + show(c.limit)),
        el("td", {}, show(c.slack)), el("td", { class: c.ok ? "ok" : "broken" }, c.ok ? "met" : "broken"));
      body.append(tr);
    }
    if (!ev.guardrails.length) body.append(el("tr", {}, null)).append(el("td", { colspan: 5 }, "the case sets no guardrails"));
  }

  function renderSegments(d) {
    const table = $("segments"), att = d.segment_attainment || {};
    const head = el("tr");
    for (const h of ["segment", "reps", "expected payout", "pay / target", "gap to all reps"]) head.append(el("th", {}, h));
    for (const m of d.plan.metrics) head.append(el("th", {}, "attainment: " + m.label));
    table.querySelector("thead").replaceChildren(head);
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const s of d.evaluation.segments || []) {
      const tr = el("tr", { "data-figure": "segments." + s.group, "data-value": s.share_of_target });
      tr.append(el("td", {}, s.group), el("td", {}, String(s.reps)), el("td", { "data-figure": "segments." + s.group + ".expected_payout", "data-value": s.expected_payout }, money(s.expected_payout, d.currency)),
        el("td", {}, pct(s.share_of_target)), el("td", {}, points(s.gap)));
      for (const m of d.plan.metrics) {
        const v = (att[s.group] || {})[m.id];
        tr.append(el("td", { "data-figure": "segment_attainment." + s.group + "." + m.id, "data-value": v === null || v === undefined ? "" : v }, v === null || v === undefined ? "—" : pct(v)));
      }
      body.append(tr);
    }
  }

  // ------------------------------------------------------------------ charts (inline SVG)

  const NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function ticks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((v) => v >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function frame(box, title, xr, yr, xfmt, yfmt, xlabel, ylabel, legend) {
    const W = 480, H = 320, L = 58, R = 12, T = 28, B = 44 + 16 * Math.ceil((legend || []).length / 2);
    const svg = s("svg", { viewBox: "0 0 " + W + " " + (H + B - 44), role: "img", "aria-label": title, class: "chart" });
    const x = (v) => L + (v - xr[0]) / (xr[1] - xr[0] || 1) * (W - L - R);
    const y = (v) => (H - 44) - (v - yr[0]) / (yr[1] - yr[0] || 1) * ((H - 44) - T);
    svg.append(s("text", { x: 6, y: 17, "font-size": 12.5, "font-weight": "bold", fill: "#111827" }, title));
    for (const v of ticks(yr[0], yr[1], 5)) {
      svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e7eb", "stroke-width": 0.7 }));
      svg.append(s("text", { x: L - 5, y: y(v) + 4, "font-size": 10, fill: "#374151", "text-anchor": "end" }, yfmt(v)));
    }
    for (const v of ticks(xr[0], xr[1], 5)) {
      svg.append(s("line", { x1: x(v), x2: x(v), y1: T, y2: H - 44, stroke: "#e5e7eb", "stroke-width": 0.7 }));
      svg.append(s("text", { x: x(v), y: H - 44 + 14, "font-size": 10, fill: "#374151", "text-anchor": "middle" }, xfmt(v)));
    }
    svg.append(s("line", { x1: L, x2: L, y1: T, y2: H - 44, stroke: "#9ca3af" }));
    svg.append(s("line", { x1: L, x2: W - R, y1: H - 44, y2: H - 44, stroke: "#9ca3af" }));
    svg.append(s("text", { x: (L + W - R) / 2, y: H - 44 + 30, "font-size": 10.5, fill: "#374151", "text-anchor": "middle" }, xlabel));
    svg.append(s("text", { x: 12, y: (T + H - 44) / 2, "font-size": 10.5, fill: "#374151", "text-anchor": "middle", transform: "rotate(-90 12 " + (T + H - 44) / 2 + ")" }, ylabel));
    (legend || []).forEach((item, i) => {
      const lx = 20 + (i % 2) * 230, ly = H - 44 + 48 + 16 * Math.floor(i / 2);
      svg.append(s("line", { x1: lx, x2: lx + 24, y1: ly - 4, y2: ly - 4, stroke: item.colour, "stroke-width": item.width || 2, "stroke-dasharray": item.dash || null, "stroke-opacity": item.opacity || 1 }));
      svg.append(s("text", { x: lx + 30, y: ly, "font-size": 10, fill: "#111827" }, item.label));
    });
    box.replaceChildren(svg);
    return { svg, x, y, top: T, bottom: H - 44, left: L, right: W - R };
  }
  function vline(f, v, colour, dash, width) {
    f.svg.append(s("line", { x1: f.x(v), x2: f.x(v), y1: f.top, y2: f.bottom, stroke: colour, "stroke-width": width || 1.8, "stroke-dasharray": dash || null }));
  }
  function histogram(box, title, h, lines, xfmt, xlabel, ylabel) {
    const xs = h.edges.concat(lines.map((l) => l.value).filter((v) => v !== null && v !== undefined));
    let lo = Math.min(...xs), hi = Math.max(...xs);
    const pad = (hi - lo) * 0.04 || Math.abs(hi) * 0.05 || 1; lo -= pad; hi += pad;
    const top = Math.max(...h.counts, 1) * 1.08;
    const legend = lines.map((l) => ({ colour: l.colour, dash: l.dash, label: l.label }));
    const f = frame(box, title, [lo, hi], [0, top], xfmt, (v) => String(Math.round(v)), xlabel, ylabel, legend);
    h.counts.forEach((c, i) => {
      if (!c) return;
      const x0 = f.x(h.edges[i]), x1 = f.x(h.edges[i + 1]);
      f.svg.append(s("rect", { x: x0, y: f.y(c), width: Math.max(x1 - x0, 0.5), height: f.bottom - f.y(c), fill: PALETTE, "fill-opacity": 0.55, stroke: PALETTE, "stroke-width": 0.8 }));
    });
    for (const l of lines) if (l.value !== null && l.value !== undefined) vline(f, l.value, l.colour, l.dash);
  }

  function charts(d) {
    const ev = d.evaluation, cur = d.currency;
    const lines = [{ value: ev.expected_cost, colour: PALETTE, label: "expected: " + compact(ev.expected_cost) },
      { value: ev.total_cvar, colour: PALETTE, dash: "6 3", label: "CVaR " + fmt(ev.total_cvar_level, 2) + ": " + compact(ev.total_cvar) }];
    if (d.limits["budget.expected_cap"] !== null) lines.push({ value: d.limits["budget.expected_cap"], colour: LIMIT, label: "expected cap: " + compact(d.limits["budget.expected_cap"]) });
    if (d.limits["budget.cvar_cap"] !== null) lines.push({ value: d.limits["budget.cvar_cap"], colour: LIMIT, dash: "6 3", label: "CVaR cap: " + compact(d.limits["budget.cvar_cap"]) });
    histogram($("chart-totals"), "Total payout " + d.per + " over the scenarios", d.charts.totals, lines, (v) => compact(v), "total payout (" + cur + " " + d.per + ")", "scenarios");
    const shareLines = [{ value: 1, colour: "#111827", label: "target", width: 1.2 }];
    if (d.limits["fairness.bottom_floor"] !== null) shareLines.push({ value: d.limits["fairness.bottom_floor"], colour: LIMIT, dash: "6 3", label: "floor for the bottom " + pct(ev.bottom_share) + ": " + pct(d.limits["fairness.bottom_floor"]) });
    histogram($("chart-shares"), "Rep earnings: expected pay / own target", d.charts.shares, shareLines, (v) => Math.round(v * 100) + "%", "expected pay / own target incentive", "reps");
    segmentChart(d);
    curveCharts(d);
  }

  function segmentChart(d) {
    const box = $("chart-segments"), ev = d.evaluation, segs = ev.segments || [];
    if (!segs.length) { box.replaceChildren(); return; }
    const tol = d.limits["fairness.parity_tolerance"];
    const reach = Math.max(...segs.map((x) => Math.abs(x.gap)), tol || 0, 0.01) * 1.35;
    const legend = tol !== null ? [{ colour: "#10b981", width: 8, opacity: 0.3, label: "parity tolerance ±" + Math.round(tol * 100) + " pp" }] : [];
    const f = frame(box, "Segment parity by " + ev.segment_column, [-reach, reach], [0, segs.length], (v) => (Math.abs(v) < 1e-12 ? "0" : (v > 0 ? "+" : "") + Math.round(v * 100)), () => "", "gap to all reps, pp", "", legend);
    if (tol !== null) f.svg.insertBefore(s("rect", { x: f.x(-tol), y: f.top, width: f.x(tol) - f.x(-tol), height: f.bottom - f.top, fill: "#10b981", "fill-opacity": 0.12 }), f.svg.children[1]);
    segs.forEach((g, i) => {
      const yc = f.y(segs.length - i - 0.5), h = Math.min(28, (f.bottom - f.top) / segs.length * 0.7);
      const x0 = f.x(Math.min(0, g.gap)), x1 = f.x(Math.max(0, g.gap));
      f.svg.append(s("rect", { x: x0, y: yc - h / 2, width: Math.max(x1 - x0, 0.5), height: h, fill: PALETTE }));
      f.svg.append(s("text", { x: f.left + 4, y: yc - h / 2 - 2, "font-size": 10, fill: "#374151" }, g.group));
      f.svg.append(s("text", { x: g.gap >= 0 ? x1 + 3 : x0 - 3, y: yc + 4, "font-size": 9.5, fill: "#111827", "text-anchor": g.gap >= 0 ? "start" : "end" }, pct(g.share_of_target, 1)));
    });
    vline(f, 0, "#111827", null, 1);
  }

  function curveCharts(d) {
    const box = $("curves");
    const figures = [];
    for (const c of d.charts.curves) {
      const fig = el("figure", { class: "chart", "data-figure": "curve." + c.id });
      const hi = Math.max(...c.y, ...(c.current || [0])) * 1.08 || 1;
      const legend = [{ colour: PALETTE, width: 2.4, label: d.plan.name }];
      if (c.current) legend.push({ colour: CURRENT, dash: "6 3", label: "the current plan" });
      const f = frame(fig, "Payout curve: " + c.label, [0, c.x[c.x.length - 1]], [0, hi], (v) => Math.round(v * 100) + "%", (v) => Math.round(v * 100) + "%", "attainment / quota", "pay / target incentive", legend);
      vline(f, 1, "#9ca3af", "2 3", 0.8);
      const path = (ys) => c.x.map((v, i) => (i ? "L" : "M") + f.x(v).toFixed(2) + " " + f.y(ys[i]).toFixed(2)).join(" ");
      if (c.current) f.svg.append(s("path", { d: path(c.current), fill: "none", stroke: CURRENT, "stroke-width": 1.6, "stroke-dasharray": "6 3" }));
      f.svg.append(s("path", { d: path(c.y), fill: "none", stroke: PALETTE, "stroke-width": 2.4 }));
      if (c.gate) fig.append(el("figcaption", {}, c.label + " " + c.gate + "."));
      figures.push(fig);
    }
    box.replaceChildren(...figures);
  }

  // ------------------------------------------------------------------ candidates and compare

  function keep() {
    if (!doc) return;
    const name = doc.plan.name + " #" + candidates.length;
    candidates.push({ name: name, state: doc.state });
    renderCandidates(candidates.length - 1);
  }
  let choiceA = 0, choiceB = null;
  function renderCandidates(pick) {
    if (pick !== undefined) choiceB = pick;
    const body = $("candidate-list").querySelector("tbody");
    body.replaceChildren();
    candidates.forEach((c, i) => {
      const tr = el("tr", { "data-candidate": c.name, "data-state": c.state });
      const open = el("button", { type: "button", "aria-label": "open " + c.name }, c.name);
      open.addEventListener("click", () => go(statePairs("?" + c.state), true));
      const a = el("input", { type: "radio", name: "cand-a", "aria-label": "compare " + c.name + " as A", checked: i === choiceA });
      a.addEventListener("change", () => { choiceA = i; });
      const b = el("input", { type: "radio", name: "cand-b", "aria-label": "compare " + c.name + " as B", checked: i === choiceB });
      b.addEventListener("change", () => { choiceB = i; });
      const drop = el("button", { type: "button", "aria-label": "drop " + c.name, disabled: !!c.fixed }, "drop");
      drop.addEventListener("click", () => { candidates.splice(i, 1); if (choiceB === i) choiceB = null; if (choiceA === i) choiceA = 0; renderCandidates(); });
      const td = el("td");
      td.append(open);
      tr.append(td, cellOf(a), cellOf(b), cellOf(drop));
      body.append(tr);
    });
  }
  function cellOf(node) { const td = el("td"); td.append(node); return td; }

  async function compare() {
    const a = candidates[choiceA], b = choiceB !== null ? candidates[choiceB] : null;
    const table = $("comparison");
    if (!a || !b) { table.replaceChildren(el("caption", {}, "pick a candidate as B (keep one first)")); return; }
    const pairs = [["state", a.state], ["state", b.state]];
    const answer = await call("/api/compare", pairs);
    if (answer.status !== 200) { table.replaceChildren(el("caption", { class: "broken" }, (answer.data.errors || []).map((e) => e.message).join("; ") || answer.data.message)); return; }
    const head = el("tr");
    for (const h of answer.data.headers) head.append(el("th", {}, h));
    const thead = el("thead"); thead.append(head);
    const tbody = el("tbody");
    for (const row of answer.data.rows) {
      const tr = el("tr", { "data-figure": row.key });
      row.cells.forEach((text, i) => tr.append(el("td", i >= 1 && i <= row.values.length ? { "data-value": row.values[i - 1] === null ? "" : row.values[i - 1] } : {}, text)));
      tbody.append(tr);
    }
    table.replaceChildren(thead, tbody);
    table.dataset.compared = a.name + " | " + b.name;
  }

  // ------------------------------------------------------------------ files

  async function write(path, body, errorId) {
    $(errorId).textContent = "";
    $("files-out").textContent = "writing…";
    const answer = await call(path, statePairs(), { method: "POST", body: JSON.stringify(body) });
    if (answer.status === 200) {
      $("files-out").textContent = "wrote " + answer.data.written.join(", ");
      $("files-out").dataset.written = answer.data.written.join(",");
    } else {
      $("files-out").textContent = "";
      $(errorId).textContent = (answer.data.errors || []).map((e) => e.message).join("; ") || answer.data.message;
    }
  }

  // ------------------------------------------------------------------ formats

  function fmt(v, digits) {
    if (v === null || v === undefined) return "—";
    const text = Number(v).toFixed(digits);
    return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  }
  function pct(v, digits) { return v === null || v === undefined ? "—" : (v * 100).toFixed(digits === undefined ? 1 : digits) + "%"; }
  function points(v) { return (v >= 0 ? "+" : "") + (v * 100).toFixed(1) + " pp"; }
  function money(v, cur) { return v === null || v === undefined ? "—" : Math.round(v).toLocaleString("en-US") + " " + (cur || ""); }
  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + "bn";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "m";
    if (a >= 1e3) return (v / 1e3).toFixed(0) + "k";
    return String(Math.round(v));
  }

  // ------------------------------------------------------------------ start

  window.addEventListener("popstate", () => refresh());
  window.addEventListener("DOMContentLoaded", async () => {
    const answer = await call("/api/case", []);
    if (answer.status !== 200) { status("cannot read the case: " + (answer.data.message || answer.status), true); return; }
    info = answer.data;
    build();
    if (!new URLSearchParams(location.search).has("plan")) go(statePairs(), false); else refresh();
  });
})();
