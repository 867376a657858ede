// banditd dashboard: plain JS and SVG, no dependencies. Polls the server's
// JSON endpoints (/api/rooms, /api/stats) and redraws.
"use strict";

const COLORS = ["#2f6fdb", "#e8710a", "#1e8e3e", "#d93025", "#9334e6",
                "#12b5cb", "#f9ab00", "#5f6368", "#e52592", "#7cb342"];
const SVG_NS = "http://www.w3.org/2000/svg";
const state = { room: null, segment: "", rooms: [], colors: new Map() };

const $ = (id) => document.getElementById(id);

function colorOf(arm) {
  if (!state.colors.has(arm)) {
    state.colors.set(arm, COLORS[state.colors.size % COLORS.length]);
  }
  return state.colors.get(arm);
}

function fmt(v, digits) {
  if (v === null || v === undefined) return "∞";  // unseen arm: +inf score
  return Number(v).toFixed(digits);
}

function fmtCount(v) {
  return Number(v).toLocaleString("en-US", { maximumFractionDigits: 2 });
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// ---------------------------------------------------------------- rooms
function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  state.room = params.get("room");
  state.segment = params.get("segment") || "";
  $("segment").value = state.segment;
}

function writeHash() {
  const params = new URLSearchParams();
  if (state.room !== null) params.set("room", state.room);
  if (state.segment) params.set("segment", state.segment);
  history.replaceState(null, "", "#" + params.toString());
}

function selectRoom(roomId) {
  state.room = roomId;
  state.colors = new Map();
  writeHash();
  renderRooms();
  refreshStats();
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren();
  for (const room of state.rooms) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.dataset.room = room.room_id;
    button.textContent = room.room_id;
    if (room.room_id === state.room) button.classList.add("selected");
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${room.arms} arms · ${room.policy}`;
    button.append(meta);
    button.addEventListener("click", () => selectRoom(room.room_id));
    li.append(button);
    list.append(li);
  }
  $("no-rooms").hidden = state.rooms.length > 0;
}

async function refreshRooms() {
  try {
    const data = await getJson("api/rooms");
    state.rooms = data.rooms;
    renderRooms();
    setStatus(true);
  } catch (e) {
    setStatus(false, e.message);
  }
}

function setStatus(ok, message) {
  const status = $("status");
  status.textContent = ok
      ? "live · updated " + new Date().toLocaleTimeString()
      : "disconnected: " + message;
  status.className = ok ? "muted" : "error";
}

// ---------------------------------------------------------------- stats
async function refreshStats() {
  if (state.room === null) {
    $("room").hidden = true;
    $("empty").hidden = false;
    return;
  }
  $("room").hidden = false;
  $("empty").hidden = true;
  $("room-title").textContent = state.room;
  const query = new URLSearchParams({ room: state.room, segment: state.segment });
  try {
    const stats = await getJson("api/stats?" + query.toString());
    $("error").hidden = true;
    renderStats(stats);
    setStatus(true);
  } catch (e) {
    $("error").textContent = e.message;
    $("error").hidden = false;
  }
}

function renderStats(stats) {
  const p = stats.policy;
  $("policy").textContent =
      `policy ${p.kind} · UCB1 alpha ${p.ucb_alpha} · BUCB z ${p.bucb_z} · ` +
      `Beta prior (${p.beta_prior_a}, ${p.beta_prior_b}) · epsilon ${p.epsilon}` +
      ` · ${fmtCount(stats.total_views)} views in segment ` +
      (stats.segment ? `"${stats.segment}"` : "(whole room)");
  const tbody = $("arms").querySelector("tbody");
  tbody.replaceChildren();
  const total = stats.arms.reduce((sum, a) => sum + a.views, 0);
  for (const arm of stats.arms) {
    const tr = document.createElement("tr");
    tr.dataset.arm = arm.arm_id;
    if (!arm.enabled) tr.className = "disabled";
    const cells = [
      ["arm", arm.arm_id, ""],
      ["enabled", arm.enabled ? "yes" : "no", ""],
      ["views", fmtCount(arm.views), "num"],
      ["clicks", fmtCount(arm.clicks), "num"],
      ["ctr", fmt(arm.ctr, 4), "num"],
      ["ucb1", fmt(arm.ucb1, 4), "num"],
      ["bucb", fmt(arm.bucb, 4), "num"],
      ["share", total > 0 ? (100 * arm.views / total).toFixed(1) + "%" : "–", "num"],
    ];
    for (const [name, text, cls] of cells) {
      const td = document.createElement("td");
      td.className = (name + " " + cls).trim();
      td.textContent = text;
      if (name === "arm") {
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = colorOf(arm.arm_id);
        td.prepend(swatch);
      }
      tr.append(td);
    }
    tbody.append(tr);
  }
  drawShare(stats);
  drawBounds(stats);
  drawCurves(stats);
  drawHotCold(stats);
}

// ---------------------------------------------------------------- charts
function el(name, attrs, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const W = 520, H = 220, L = 40, R = 10, T = 10, B = 25;

function frame(svg, yMax, yLabel, xLabel) {
  svg.replaceChildren();
  svg.append(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  svg.append(el("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  for (let i = 0; i <= 4; i++) {
    const y = H - B - (i / 4) * (H - B - T);
    svg.append(el("text", { x: L - 4, y: y + 3, "text-anchor": "end" },
                  (yMax * i / 4).toFixed(yMax < 1.5 ? 2 : 1)));
  }
  svg.append(el("text", { x: L, y: T - 1 }, yLabel));
  svg.append(el("text", { x: W - R, y: H - 4, "text-anchor": "end" }, xLabel));
}

function emptyNote(svg, text) {
  svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, text));
}

function drawShare(stats) {
  const svg = $("share-chart");
  frame(svg, 1, "share", "time");
  const points = stats.share_history;
  if (points.length < 1) {
    emptyNote(svg, "waiting for new views…");
    return;
  }
  const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 1);
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => H - B - v * (H - B - T);
  for (const arm of stats.arms) {
    const coords = points.map((p) => [x(p.t), y(p.share[arm.arm_id] || 0)]);
    if (coords.length === 1) coords.push([W - R, coords[0][1]]);
    svg.append(el("polyline", {
      points: coords.map((c) => c.join(",")).join(" "),
      fill: "none", stroke: colorOf(arm.arm_id), "stroke-width": 2,
    }));
  }
  const seconds = Math.round((t1 - t0) / 1000);
  svg.append(el("text", { x: L, y: H - 4 }, `last ${seconds}s`));
}

function drawBounds(stats) {
  const svg = $("bounds-chart");
  const finite = (v) => v !== null && Number.isFinite(v);
  let yMax = 0.1;
  for (const a of stats.arms) {
    for (const v of [a.ctr, a.ucb1, a.bucb]) if (finite(v)) yMax = Math.max(yMax, v);
  }
  yMax = Math.min(Math.ceil(yMax * 10) / 10, 5);
  frame(svg, yMax, "score", "arms");
  const n = stats.arms.length;
  if (n === 0) return emptyNote(svg, "no arms");
  const step = (W - L - R) / n;
  const y = (v) => H - B - Math.min(v, yMax) / yMax * (H - B - T);
  stats.arms.forEach((a, i) => {
    const cx = L + step * (i + 0.5);
    const color = colorOf(a.arm_id);
    const top = finite(a.ucb1) ? y(a.ucb1) : T;
    svg.append(el("line", { x1: cx, x2: cx, y1: y(a.ctr), y2: top, stroke: color,
                            "stroke-width": 6, "stroke-opacity": 0.35 }));
    const bucb = finite(a.bucb) ? y(a.bucb) : T;
    svg.append(el("line", { x1: cx - 8, x2: cx + 8, y1: bucb, y2: bucb, stroke: color,
                            "stroke-width": 2 }));
    svg.append(el("circle", { cx, cy: y(a.ctr), r: 4, fill: color }));
    if (n <= 12) {
      svg.append(el("text", { x: cx, y: H - B + 12, "text-anchor": "middle" },
                    a.arm_id.length > 10 ? a.arm_id.slice(0, 9) + "…" : a.arm_id));
    }
  });
}

function drawCurves(stats) {
  const svg = $("curves-chart");
  const p = stats.policy;
  const totalViews = Math.max(stats.total_views, 2);
  const clicks = stats.arms.reduce((s, a) => s + a.clicks, 0);
  // BUCB's variance uses the Beta posterior mean of the pooled CTR.
  const mean = Math.min(Math.max((clicks + p.beta_prior_a) /
                                 (totalViews + p.beta_prior_a + p.beta_prior_b), 0), 1);
  const ucb = (n) => p.ucb_alpha * Math.sqrt(2 * Math.log(totalViews) / n);
  const bucb = (n) => p.bucb_z * Math.sqrt(mean * (1 - mean) / n);
  const nMax = Math.max(10, ...stats.arms.map((a) => a.views)) * 1.1;
  const yMax = Math.max(0.05, Math.min(ucb(1), 3), Math.min(bucb(1), 3));
  frame(svg, yMax, "bonus", "views of the arm (log scale)");
  const x = (n) => L + Math.log(n) / Math.log(nMax) * (W - L - R);
  const y = (v) => H - B - Math.min(v, yMax) / yMax * (H - B - T);
  const curve = (f, color, dash) => {
    const pts = [];
    for (let i = 0; i <= 60; i++) {
      const n = Math.exp(i / 60 * Math.log(nMax));
      pts.push(`${x(n)},${y(f(n))}`);
    }
    svg.append(el("polyline", { points: pts.join(" "), fill: "none", stroke: color,
                                "stroke-width": 2, "stroke-dasharray": dash }));
  };
  curve(ucb, "#2f6fdb", "");
  curve(bucb, "#e8710a", "5 3");
  for (const a of stats.arms) {
    if (a.views < 1) continue;
    svg.append(el("circle", { cx: x(a.views), cy: y(ucb(a.views)), r: 3.5,
                              fill: colorOf(a.arm_id) }));
  }
  svg.append(el("text", { x: W - R - 4, y: T + 10, "text-anchor": "end", fill: "#2f6fdb" },
                `UCB1: ${p.ucb_alpha}·√(2 ln N / n), N=${fmtCount(stats.total_views)}`));
  svg.append(el("text", { x: W - R - 4, y: T + 24, "text-anchor": "end" },
                `BUCB (dashed): ${p.bucb_z}·√(p(1−p)/n), p=${mean.toFixed(3)}`));
}

// Hot/cold feed score: score = coldness(n) + hotness(CTR), with
//   coldness = cold_max * (1 - sigmoid(cold_steepness * (n - cold_threshold)))
//   hotness  = hot_max * sigmoid(hot_steepness * (CTR - hot_threshold))
function drawHotCold(stats) {
  const p = stats.policy;
  const have = ["cold_max", "cold_steepness", "cold_threshold", "hot_max",
                "hot_steepness", "hot_threshold"].every((k) => typeof p[k] === "number");
  $("cold-chart").style.display = have ? "" : "none";
  $("hot-chart").style.display = have ? "" : "none";
  $("hotcold-missing").hidden = have;
  if (!have) return;
  const sigmoid = (x) => 1 / (1 + Math.exp(-x));
  const cold = (n) => p.cold_max * (1 - sigmoid(p.cold_steepness * (n - p.cold_threshold)));
  const hot = (ctr) => p.hot_max * sigmoid(p.hot_steepness * (ctr - p.hot_threshold));
  const plot = (svg, f, xMax, xLabel, yMax, xOf, color, label) => {
    frame(svg, yMax, "score", xLabel);
    const x = (v) => L + v / xMax * (W - L - R);
    const y = (v) => H - B - Math.min(v, yMax) / Math.max(yMax, 1e-9) * (H - B - T);
    const pts = [];
    for (let i = 0; i <= 100; i++) {
      const v = xMax * i / 100;
      pts.push(`${x(v)},${y(f(v))}`);
    }
    svg.append(el("polyline", { points: pts.join(" "), fill: "none", stroke: color,
                                "stroke-width": 2 }));
    for (const a of stats.arms) {
      const v = Math.min(xOf(a), xMax);
      svg.append(el("circle", { cx: x(v), cy: y(f(v)), r: 3.5, fill: colorOf(a.arm_id) }));
    }
    svg.append(el("text", { x: W - R - 4, y: T + 10, "text-anchor": "end" }, label));
    svg.append(el("text", { x: L, y: H - 4 }, "0"));
  };
  const maxViews = Math.max(...stats.arms.map((a) => a.views), 0);
  const nMax = Math.max(2 * p.cold_threshold + 4 / p.cold_steepness, maxViews * 1.1, 10);
  plot($("cold-chart"), cold, nMax, `views (to ${fmtCount(Math.round(nMax))})`,
       Math.max(p.cold_max, 1e-6), (a) => a.views, "#1e8e3e",
       `coldness: max ${p.cold_max}, steepness ${p.cold_steepness}, threshold ${p.cold_threshold}`);
  const ctrMax = Math.min(1, Math.max(2 * p.hot_threshold + 4 / p.hot_steepness,
                                      ...stats.arms.map((a) => a.ctr * 1.1), 0.05));
  plot($("hot-chart"), hot, ctrMax, `CTR (to ${ctrMax.toFixed(2)})`,
       Math.max(p.hot_max, 1e-6), (a) => a.ctr, "#d93025",
       `hotness: max ${p.hot_max}, steepness ${p.hot_steepness}, threshold ${p.hot_threshold}`);
}

// ---------------------------------------------------------------- main
$("segment").addEventListener("change", () => {
  state.segment = $("segment").value.trim();
  writeHash();
  refreshStats();
});
window.addEventListener("hashchange", () => { readHash(); renderRooms(); refreshStats(); });

readHash();
refreshRooms();
refreshStats();
setInterval(refreshRooms, 3000);
setInterval(refreshStats, 1000);
