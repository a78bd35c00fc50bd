// The anomaly-engine dashboard: plain JavaScript over the REST API, no library, no build step.
// Every text that comes from the API is set with textContent (never parsed as HTML): root-cause
// text quotes log messages and entity names that producers chose.
"use strict";

(() => {
  const KEY_STORAGE = "anomaly-engine.api-key";
  const API_ROOT = new URL("..", window.location.href); // the page is served at <root>/ui/
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ALERTS_EVERY_MS = 3000;
  const CHART_EVERY_MS = 5000;
  const TABLES_EVERY_MS = 10000;
  const FORECAST_STEPS = 20;

  const state = {
    selected: null, // {model_id, entity, incident_id}
    configs: [],
    alerts: [],
    blocked: false, // waiting for an API key
  };

  const $ = (selector) => document.querySelector(selector);

  // ------------------------------------------------------------------ API access

  class AccessError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function errorText(body, fallback) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail)) {
      return body.detail.map((d) => `${d.field}: ${d.message}`).join("; ");
    }
    return fallback;
  }

  async function getJSON(path, params = {}) {
    const url = new URL(path, API_ROOT);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers = { Accept: "application/json" };
    const key = window.localStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch(url, { headers, cache: "no-store" });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.status === 401 || response.status === 403) {
      throw new AccessError(response.status, errorText(body, response.statusText));
    }
    if (!response.ok) {
      throw new Error(`${path}: HTTP ${response.status}: ${errorText(body, response.statusText)}`);
    }
    return body;
  }

  function askForKey(error) {
    state.blocked = true;
    const stored = window.localStorage.getItem(KEY_STORAGE);
    const reason = $("#key-reason");
    if (error.status === 403) {
      reason.textContent = `The key in use may not read (${error.message}). Enter a read or admin key.`;
    } else if (stored) {
      reason.textContent = `The engine refused the stored key (${error.message}). Enter a read or admin key.`;
    } else {
      reason.textContent =
        "This engine requires an API key to read. Enter a read or admin key; it is kept in this " +
        "browser (localStorage) and sent as Authorization: Bearer.";
    }
    $("#key-form").hidden = false;
    $("#forget-key").hidden = !stored;
    setStatus("Waiting for an API key.");
    $("#key-input").focus();
  }

  function handleError(error) {
    if (error instanceof AccessError) {
      askForKey(error);
    } else {
      setStatus(`Cannot reach the engine: ${error.message}. Retrying…`, true);
    }
  }

  function setStatus(text, problem = false) {
    const status = $("#status");
    status.textContent = text;
    status.classList.toggle("problem", problem);
  }

  // ------------------------------------------------------------------ formatting

  function fmt(value) {
    if (value === null || value === undefined || !Number.isFinite(value)) return "–";
    if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
    return String(Number(value.toPrecision(4)));
  }

  function timeOf(ts) {
    return new Date(ts * 1000);
  }

  function shortTime(ts) {
    const date = timeOf(ts);
    const now = new Date();
    const options = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (date.toDateString() !== now.toDateString()) {
      Object.assign(options, { month: "short", day: "numeric" });
    }
    return date.toLocaleString(undefined, options);
  }

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attributes = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      node.setAttribute(name, String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function timeElement(ts) {
    return el("time", { datetime: timeOf(ts).toISOString(), title: timeOf(ts).toISOString() },
      shortTime(ts));
  }

  const SEVERITY_MARK = { critical: "‼", error: "!", warning: "▲", info: "i" };

  // ------------------------------------------------------------------ incidents

  function deliverySummary(alert) {
    const list = el("ul", { class: "deliveries" });
    const channels = new Set([...(alert.alert_channels || []), ...Object.keys(alert.deliveries || {})]);
    if (alert.silenced) {
      list.append(el("li", { class: "silenced", "data-delivery": "silenced" }, "🔕 silenced: not delivered"));
    }
    if (channels.size === 0) {
      list.append(el("li", { class: "muted", "data-delivery": "none" }, "no channel"));
      return list;
    }
    for (const channel of [...channels].sort()) {
      const events = (alert.deliveries || {})[channel] || {};
      const names = Object.keys(events);
      let status = "no delivery yet";
      let detail = "";
      if (names.length) {
        const latest = events[names[names.length - 1]];
        status = latest.status || "unknown";
        detail = ` (${names.join(", ")})`;
      }
      const kind = names.length ? status.replace(/[^a-z_-]/gi, "") : "none";
      list.append(
        el("li", { class: `delivery ${kind}`, "data-channel": channel, "data-delivery": kind },
          `${channel}: ${status}${detail}`),
      );
    }
    return list;
  }

  // Why an incident resolved, when not by its points going back to normal.
  const RESOLUTIONS = { silent: "entity went silent", false_positive: "false positive" };

  function incidentRow(alert) {
    const selected = state.selected && state.selected.incident_id === alert.incident_id;
    const resolved = alert.status === "resolved" || alert.event === "resolve";
    const severity = alert.severity || "warning";
    const choose = el("button", {
      type: "button",
      class: "link",
      "aria-label": `Chart ${alert.entity} under ${alert.model_id}`,
    }, alert.entity);
    const row = el("tr", {
      "data-incident-id": alert.incident_id,
      "data-entity": alert.entity,
      "data-model-id": alert.model_id,
      "data-severity": severity,
      "aria-selected": selected ? "true" : "false",
      class: selected ? "selected" : "",
    },
      el("td", {}, el("span", { class: `severity ${severity}` },
        el("span", { "aria-hidden": "true", class: "mark" }, SEVERITY_MARK[severity] || "•"), ` ${severity}`)),
      el("td", {}, choose, el("div", { class: "sub" }, alert.model_id)),
      el("td", { class: "summary" }, alert.summary || "(no root cause recorded)"),
      el("td", {}, el("span", { class: resolved ? "state resolved" : "state open" },
        resolved ? "✓ resolved" : "● open"),
      resolved && alert.resolution ? el("div", { class: "sub resolution" },
        RESOLUTIONS[alert.resolution] || alert.resolution.replace(/_/g, " ")) : null,
      alert.silenced ? el("div", { class: "sub" }, "silenced") : null),
      el("td", {}, deliverySummary(alert)),
      el("td", {}, timeElement(alert.ts)),
    );
    const select = () => selectIncident(alert);
    choose.addEventListener("click", (event) => {
      event.stopPropagation();
      select();
    });
    row.addEventListener("click", select);
    return row;
  }

  function renderIncidents(alerts) {
    const body = $("#incidents tbody");
    body.replaceChildren(...alerts.map(incidentRow));
    $("#incidents-empty").hidden = alerts.length > 0;
    const open = alerts.filter((a) => a.status !== "resolved" && a.event !== "resolve").length;
    $("#incident-count").textContent = alerts.length ? `(${open} open, ${alerts.length} listed)` : "";
    const entities = $("#known-entities");
    const model = $("#series-model").value;
    const names = [...new Set(alerts.filter((a) => !model || a.model_id === model).map((a) => a.entity))];
    entities.replaceChildren(...names.map((name) => el("option", { value: name })));
  }

  function selectIncident(alert) {
    state.selected = { model_id: alert.model_id, entity: alert.entity, incident_id: alert.incident_id };
    ensureModelOption(alert.model_id);
    $("#series-model").value = alert.model_id;
    $("#series-entity").value = alert.entity;
    for (const row of document.querySelectorAll("#incidents tbody tr")) {
      const on = row.dataset.incidentId === alert.incident_id;
      row.classList.toggle("selected", on);
      row.setAttribute("aria-selected", on ? "true" : "false");
    }
    refreshChart();
  }

  // ------------------------------------------------------------------ chart

  function niceTicks(low, high, count = 4) {
    const span = high - low;
    if (!(span > 0)) return [low];
    const raw = span / count;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => span / s <= count) || raw;
    const ticks = [];
    for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) ticks.push(v);
    return ticks;
  }

  function linePath(xs, ys) {
    let d = "";
    let drawing = false;
    for (let i = 0; i < xs.length; i += 1) {
      const y = ys[i];
      if (y === null || !Number.isFinite(y)) {
        drawing = false;
        continue;
      }
      d += `${drawing ? "L" : "M"}${xs[i].toFixed(1)},${y.toFixed(1)}`;
      drawing = true;
    }
    return d;
  }

  function areaPath(xs, highs, lows) {
    // One closed polygon per run of points where both edges are known.
    let d = "";
    let run = [];
    const flush = () => {
      if (run.length) {
        const top = run.map((i) => `${xs[i].toFixed(1)},${highs[i].toFixed(1)}`);
        const bottom = run.slice().reverse().map((i) => `${xs[i].toFixed(1)},${lows[i].toFixed(1)}`);
        d += `M${top.join("L")}L${bottom.join("L")}Z`;
      }
      run = [];
    };
    for (let i = 0; i < xs.length; i += 1) {
      if (Number.isFinite(highs[i]) && Number.isFinite(lows[i])) run.push(i);
      else flush();
    }
    flush();
    return d;
  }

  // One chart: `series` is {name, values, lower, upper, kind}; `points` the API's points (for
  // flags, times and incidents); `forecast` the feature's forecast points (may be empty).
  function drawChart(series, points, forecast, incidentId) {
    const width = 760;
    const height = 190;
    const margin = { left: 58, right: 14, top: 12, bottom: 26 };
    const plotW = width - margin.left - margin.right;
    const plotH = height - margin.top - margin.bottom;
    const n = points.length;
    const steps = forecast.length;
    const slots = Math.max(1, n - 1 + steps);
    const xAt = (i) => margin.left + (plotW * i) / slots;

    const known = [];
    const add = (v) => {
      if (v !== null && v !== undefined && Number.isFinite(v)) known.push(v);
    };
    series.values.forEach(add);
    series.lower.forEach(add);
    series.upper.forEach(add);
    for (const f of forecast) [f.mean, f.lower, f.upper].forEach(add);
    let low = known.length ? Math.min(...known) : 0;
    let high = known.length ? Math.max(...known) : 1;
    if (high === low) {
      high += Math.abs(high) * 0.1 || 1;
      low -= Math.abs(low) * 0.1 || 1;
    }
    const pad = (high - low) * 0.06;
    low -= pad;
    high += pad;
    const yAt = (v) => margin.top + plotH * (1 - (v - low) / (high - low));
    const y = (v) => (v === null || v === undefined || !Number.isFinite(v) ? null : yAt(v));

    const xs = points.map((_, i) => xAt(i));
    const anomalies = points.map((p, i) => ({ p, i })).filter(({ p }) => p.is_anomaly || p.alert);
    const titleId = `t-${Math.random().toString(36).slice(2)}`;
    const lastValue = series.values.length ? series.values[series.values.length - 1] : null;
    const description =
      `${series.name}: ${n} points, last ${fmt(lastValue)}; ` +
      `${anomalies.filter((a) => a.p.alert).length} alerts, ` +
      `${anomalies.filter((a) => !a.p.alert).length} flagged but suppressed` +
      (steps ? `; forecast of ${steps} steps ends at ${fmt(forecast[steps - 1].mean)}` : "");
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      class: "chart",
      role: "img",
      "aria-labelledby": titleId,
      "data-feature": series.name,
      "data-kind": series.kind,
      "data-points": n,
      "data-anomalies": anomalies.length,
      "data-forecast-steps": steps,
    }, svg("title", { id: titleId }));
    root.firstChild.textContent = description;

    // Axes and grid.
    const axis = svg("g", { class: "axis" });
    for (const tick of niceTicks(low, high)) {
      const ty = yAt(tick);
      axis.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: ty, y2: ty, class: "grid" }));
      const label = svg("text", { x: margin.left - 6, y: ty + 4, "text-anchor": "end" });
      label.textContent = fmt(tick);
      axis.append(label);
    }
    const labelled = n > 2 ? [0, Math.floor((n - 1) / 2), n - 1] : [...Array(n).keys()];
    for (const i of labelled) {
      const label = svg("text", {
        x: xAt(i),
        y: height - 8,
        "text-anchor": i === 0 ? "start" : i === n - 1 && !steps ? "end" : "middle",
      });
      label.textContent = shortTime(points[i].ts);
      axis.append(label);
    }
    root.append(axis);

    // The alert band, then the forecast's interval, the value line, the forecast, the markers.
    const bandPath = areaPath(xs, series.upper.map(y), series.lower.map(y));
    if (bandPath) {
      root.append(svg("path", { d: bandPath, class: "band", "data-role": "band" }));
    }
    if (steps) {
      const fxs = [xAt(n - 1), ...forecast.map((f) => xAt(n - 1 + f.step))];
      const lastY = y(lastValue);
      const fHigh = [lastY, ...forecast.map((f) => y(f.upper))];
      const fLow = [lastY, ...forecast.map((f) => y(f.lower))];
      const fMean = [lastY, ...forecast.map((f) => y(f.mean))];
      const area = areaPath(fxs, fHigh, fLow);
      if (area) root.append(svg("path", { d: area, class: "forecast-band", "data-role": "forecast-band" }));
      const line = linePath(fxs, fMean);
      if (line) {
        root.append(svg("path", { d: line, class: "forecast-line", "data-role": "forecast", "data-steps": steps }));
      }
    }
    root.append(svg("path", {
      d: linePath(xs, series.values.map(y)),
      class: series.kind === "score" ? "value-line score" : "value-line",
      "data-role": "series",
      "data-points": n,
    }));
    points.forEach((p, i) => {
      if (!p.incident_id) return;
      const line = svg("line", {
        x1: xs[i], x2: xs[i], y1: margin.top, y2: margin.top + plotH,
        class: p.incident_id === incidentId ? "incident-line selected" : "incident-line",
        "data-role": "incident",
        "data-incident-id": p.incident_id,
      });
      const title = svg("title");
      title.textContent = `incident ${p.incident_id} opened at ${shortTime(p.ts)}`;
      line.append(title);
      root.append(line);
    });
    for (const { p, i } of anomalies) {
      const value = series.values[i];
      const cy = y(value);
      if (cy === null) continue;
      const marker = svg("circle", {
        cx: xs[i], cy, r: p.alert ? 4.5 : 3.5,
        class: p.alert ? "marker alert" : "marker flagged",
        "data-role": "anomaly",
        "data-alert": p.alert ? "true" : "false",
        "data-ts": p.ts,
      });
      const title = svg("title");
      title.textContent =
        `${p.alert ? "alert" : "flagged, suppressed"} at ${shortTime(p.ts)}: ${series.name} ${fmt(value)} ` +
        `(score ${fmt(p.score)}, threshold ${fmt(p.threshold)})`;
      marker.append(title);
      root.append(marker);
    }
    const caption = series.kind === "score" ? "score and threshold" : series.name;
    return el("figure", { class: "chart-figure" },
      el("figcaption", {}, caption, steps ? el("span", { class: "sub" }, ` · then a forecast of ${steps} steps`) : null),
      root);
  }

  function flaggedTable(data) {
    const flagged = data.points.filter((p) => p.is_anomaly || p.alert);
    const details = el("details", { class: "flagged" },
      el("summary", {}, `Flagged points (${flagged.length})`));
    if (!flagged.length) return details;
    const head = el("tr", {}, el("th", { scope: "col" }, "Event time"),
      ...data.features.map((f) => el("th", { scope: "col", class: "num" }, f)),
      el("th", { scope: "col", class: "num" }, "Score"), el("th", { scope: "col", class: "num" }, "Threshold"),
      el("th", { scope: "col" }, "Outcome"));
    const rows = flagged.slice(-50).reverse().map((p) => el("tr", {},
      el("td", {}, timeElement(p.ts)),
      ...p.values.map((v) => el("td", { class: "num" }, fmt(v))),
      el("td", { class: "num" }, fmt(p.score)), el("td", { class: "num" }, fmt(p.threshold)),
      el("td", {}, p.alert ? (p.incident_id ? `alert, opened ${p.incident_id}` : "alert") : "suppressed")));
    details.append(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
    return details;
  }

  function renderSeries(data, incidentId) {
    const chart = $("#chart");
    const heading = el("h3", {}, `${data.model_id} on ${data.entity}`);
    const meta = el("p", { class: "sub" },
      `${data.stream} model, version ${data.model_version} · ${data.points.length} recent points · ` +
      `threshold ${fmt(data.threshold)}` +
      (data.step_seconds ? ` · one point every ~${fmt(data.step_seconds)} s` : "") +
      " · points evenly spaced, oldest left, event times under the axis");
    const parts = [heading, meta];
    if (!data.points.length) {
      parts.push(el("p", { class: "empty" },
        `No recent point of ${data.entity} under ${data.model_id}. The worker that owns the entity ` +
        "keeps the last 300 points it scored since it started."));
    }
    const forecasts = {};
    for (const f of (data.forecast && data.forecast.features) || []) forecasts[f.feature] = f.forecast || [];
    if (data.points.length) {
      data.features.forEach((name, k) => {
        parts.push(drawChart({
          name,
          kind: "value",
          values: data.points.map((p) => p.values[k]),
          lower: data.points.map((p) => (p.lower ? p.lower[k] : null)),
          upper: data.points.map((p) => (p.upper ? p.upper[k] : null)),
        }, data.points, forecasts[name] || [], incidentId));
      });
      parts.push(drawChart({
        name: "score",
        kind: "score",
        values: data.points.map((p) => p.score),
        lower: data.points.map(() => null),
        upper: data.points.map((p) => p.threshold),
      }, data.points, [], incidentId));
      parts.push(flaggedTable(data));
    }
    chart.replaceChildren(...parts);
    chart.dataset.state = "drawn";
    chart.dataset.modelId = data.model_id;
    chart.dataset.entity = data.entity;
    chart.dataset.points = String(data.points.length);
  }

  async function refreshChart() {
    const selected = state.selected;
    if (!selected || state.blocked) return;
    try {
      const data = await getJSON("anomaly/series", {
        model_id: selected.model_id,
        entity: selected.entity,
        horizon: FORECAST_STEPS,
      });
      if (state.selected === selected) renderSeries(data, selected.incident_id);
    } catch (error) {
      if (error instanceof AccessError) return handleError(error);
      const chart = $("#chart");
      chart.dataset.state = "error";
      chart.replaceChildren(el("p", { class: "problem" }, `Cannot chart ${selected.entity}: ${error.message}`));
    }
  }

  // ------------------------------------------------------------------ tables

  function ensureModelOption(modelId) {
    const select = $("#series-model");
    if (![...select.options].some((o) => o.value === modelId)) {
      select.append(el("option", { value: modelId }, modelId));
    }
  }

  function thresholdText(config) {
    const params = config.params || {};
    const base = params.threshold !== undefined ? fmt(params.threshold) : "(detector's default)";
    if (config.threshold_strategy === "adaptive") {
      return `adaptive: ×${fmt(config.adaptive_sensitivity)} over ${config.history_window} scores, at least ${base}`;
    }
    if (config.threshold_strategy === "budget") {
      return `budget: ${fmt(config.alerts_per_day ?? 1)} alerts a day, at least ${base}`;
    }
    return `static ${base}`;
  }

  function renderConfigs(configs) {
    state.configs = configs;
    $("#configs tbody").replaceChildren(...configs.map((c) => el("tr", { "data-model-id": c.model_id },
      el("th", { scope: "row" }, c.model_id),
      el("td", {}, c.model_version),
      el("td", {}, c.stream || "metrics"),
      el("td", {}, c.detector),
      el("td", {}, thresholdText(c)),
      el("td", {}, (c.alert_channels || []).join(", ") || "none"),
      el("td", {}, c.updated_at || "–"))));
    const select = $("#series-model");
    const current = select.value;
    const ids = configs.map((c) => c.model_id);
    if (state.selected && !ids.includes(state.selected.model_id)) ids.push(state.selected.model_id);
    select.replaceChildren(...ids.map((id) => el("option", { value: id }, id)));
    if (ids.includes(current)) select.value = current;
  }

  function renderStats(models) {
    const rows = Object.entries(models).sort(([a], [b]) => a.localeCompare(b)).map(([id, s]) => {
      const suppressed = Object.entries(s.suppressed || {}).filter(([, n]) => n)
        .map(([reason, n]) => `${reason} ${n}`).join(", ") || "none";
      return el("tr", { "data-model-id": id },
        el("th", { scope: "row" }, id),
        el("td", { class: "num" }, fmt(s.points)),
        el("td", { class: "num" }, fmt(s.anomalies)),
        el("td", { class: "num" }, fmt(s.alerts)),
        el("td", { class: "num" }, fmt(s.incidents_opened)),
        el("td", { class: "num" }, fmt(s.incidents_resolved)),
        el("td", {}, suppressed));
    });
    $("#stats tbody").replaceChildren(...rows);
  }

  function recurrenceText(r) {
    if (!r) return "always";
    const days = r.days && r.days.length ? ` ${r.days.join(", ")}` : "";
    return `${r.kind}${days} ${r.start}–${r.end} ${r.timezone || "UTC"}`;
  }

  function renderSilences(silences) {
    $("#silences tbody").replaceChildren(...silences.map((s) => el("tr", { "data-silence-id": s.id },
      el("td", {}, Object.entries(s.matchers).map(([k, v]) => `${k}=${v}`).join(", ")),
      el("td", {}, s.starts_at),
      el("td", {}, s.ends_at),
      el("td", {}, recurrenceText(s.recurrence)),
      el("td", {}, s.active ? "yes" : "no"),
      el("td", {}, s.comment || ""))));
    $("#silences-empty").hidden = silences.length > 0;
  }

  // ------------------------------------------------------------------ refresh loops

  async function refreshAlerts() {
    const data = await getJSON("anomaly/alerts", { limit: 200 });
    state.alerts = data.alerts;
    renderIncidents(data.alerts);
    const open = data.alerts.filter((a) => a.status !== "resolved" && a.event !== "resolve").length;
    setStatus(`Updated ${new Date().toLocaleTimeString()} · ${open} open incident${open === 1 ? "" : "s"}`);
  }

  async function refreshTables() {
    const [configs, stats, silences] = await Promise.all([
      getJSON("anomaly/config"),
      getJSON("anomaly/stats"),
      getJSON("anomaly/silences"),
    ]);
    renderConfigs(configs.configs);
    renderStats(stats.models);
    renderSilences(silences.silences);
  }

  function every(ms, task) {
    const run = async () => {
      if (!state.blocked) {
        try {
          await task();
        } catch (error) {
          handleError(error);
        }
      }
      window.setTimeout(run, ms);
    };
    run();
  }

  function refreshAll() {
    for (const task of [refreshTables, refreshAlerts, refreshChart]) {
      task().catch(handleError);
    }
  }

  function start() {
    $("#key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("#key-input").value.trim();
      if (!key) return;
      window.localStorage.setItem(KEY_STORAGE, key);
      $("#key-input").value = "";
      $("#key-form").hidden = true;
      $("#forget-key").hidden = false;
      state.blocked = false;
      setStatus("Connecting…");
      refreshAll();
    });
    $("#forget-key").hidden = !window.localStorage.getItem(KEY_STORAGE);
    $("#forget-key").addEventListener("click", () => {
      window.localStorage.removeItem(KEY_STORAGE);
      $("#forget-key").hidden = true;
      state.blocked = false;
      refreshAll();
    });
    $("#series-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const modelId = $("#series-model").value;
      const entity = $("#series-entity").value.trim();
      if (!modelId || !entity) return;
      const match = state.alerts.find((a) => a.model_id === modelId && a.entity === entity);
      state.selected = { model_id: modelId, entity, incident_id: match ? match.incident_id : null };
      refreshChart();
    });
    $("#series-model").addEventListener("change", () => renderIncidents(state.alerts));
    every(TABLES_EVERY_MS, refreshTables);
    every(ALERTS_EVERY_MS, refreshAlerts);
    every(CHART_EVERY_MS, refreshChart);
  }

  start();
})();
