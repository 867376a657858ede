// banditd dashboard: plain JS and SVG, no dependencies. Polls the server's
// JSON endpoints (/api/rooms, /api/stats) and redraws.
"use strict";

// The palette, in the order arms get it; each colour has the words that name
// it, so an arm called "red" is drawn red and no other arm is.
const PALETTE = [
  { hex: "#2f6fdb", words: ["blue", "navy"] },
  { hex: "#e8710a", words: ["orange"] },
  { hex: "#1e8e3e", words: ["green", "lime", "olive"] },
  { hex: "#d93025", words: ["red", "crimson", "scarlet"] },
  { hex: "#9334e6", words: ["purple", "violet", "lilac"] },
  { hex: "#12b5cb", words: ["cyan", "teal", "turquoise", "aqua"] },
  { hex: "#f9ab00", words: ["yellow", "gold", "amber"] },
  { hex: "#5f6368", words: ["grey", "gray", "silver", "black"] },
  { hex: "#e52592", words: ["pink", "magenta", "rose"] },
  { hex: "#8d6e63", words: ["brown", "beige", "tan"] },
];
const SVG_NS = "http://www.w3.org/2000/svg";
const state = { room: null, segment: "", rooms: [], colors: new Map() };

const $ = (id) => document.getElementById(id);

// The palette entry an arm id names by a colour word ("red", "btn-green",
// "DarkBlue"), or -1.
function namedColor(armId) {
  const words = armId.toLowerCase().split(/[^a-z]+/);
  const joined = armId.toLowerCase();
  for (let i = 0; i < PALETTE.length; i++) {
    for (const w of PALETTE[i].words) {
      if (words.includes(w) || (joined.length > w.length && joined.endsWith(w))) return i;
    }
  }
  return -1;
}

// Colours keyed by the arms' order in the room: an arm named by a colour word
// gets that colour; the others take the remaining palette entries in order,
// never one that a named arm holds (so no colour contradicts a name).
// Beyond the palette, unnamed arms reuse the unclaimed entries.
function assignColors(armIds) {
  const colors = new Map();
  const claimed = new Set();
  for (const id of armIds) {
    const i = namedColor(id);
    if (i >= 0) { colors.set(id, PALETTE[i].hex); claimed.add(i); }
  }
  const free = PALETTE.map((_, i) => i).filter((i) => !claimed.has(i));
  let next = 0;
  for (const id of armIds) {
    if (colors.has(id)) continue;
    colors.set(id, free.length ? PALETTE[free[next++ % free.length]].hex : "#5f6368");
  }
  state.colors = colors;
}

function colorOf(arm) {
  return state.colors.get(arm) || "#5f6368";
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

// ---------------------------------------------------------------- winner
// The server's winner analysis: the arm with the smallest expected loss, and
// whether that loss is below the threshold at which the test could stop.
function renderWinner(w) {
  const el = $("winner");
  if (!w || !w.best_arm_id) {
    el.textContent = "";
    return;
  }
  el.textContent =
      `Leader: ${w.best_arm_id} · ` +
      (w.can_stop ? `can stop (expected loss below ${w.loss_threshold})`
                  : `keep testing (expected loss above ${w.loss_threshold})`) +
      ` · ${w.posterior} posterior, ${fmtCount(w.draws)} draws`;
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
  assignColors(stats.arms.map((a) => a.arm_id));
  const p = stats.policy;
  $("policy").textContent =
      `policy ${p.kind} · UCB1 alpha ${p.ucb_alpha} · BUCB z ${p.bucb_z} · ` +
      `Beta prior (${p.beta_prior_a}, ${p.beta_prior_b}) · epsilon ${p.epsilon}` +
      ` · ${fmtCount(stats.total_views)} views in segment ` +
      (stats.segment ? `"${stats.segment}"` : "(whole room)") +
      (stats.arms_shown < stats.arm_count
           ? ` · ${stats.arm_selection === "top_views" ? "the" : "first"} ` +
             `${stats.arms_shown} of ${fmtCount(stats.arm_count)} arms shown` +
             (stats.arm_selection === "top_views" ? " (most views; leader among them)" : "")
           : "");
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
      ["prob_best", arm.prob_best === undefined ? "–" : fmt(arm.prob_best, 3), "num"],
      ["expected_loss", arm.expected_loss === undefined ? "–" : fmt(arm.expected_loss, 4), "num"],
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
  renderWinner(stats.winner);
  drawShare(stats);
  drawBounds(stats);
  drawCurves(stats);
  drawHotCold(stats);
  drawPosteriors(stats);
  // Each room shows the charts of its policy: Thompson its posteriors,
  // hot/cold its feed curves, the others the UCB1/BUCB bonus curves.
  $("curves").hidden = p.kind === "thompson" || p.kind === "hot_cold";
  $("hotcold").hidden = p.kind !== "hot_cold";
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
  svg.append(el("text", { x: L, y: H - 4 },
                seconds < 120 ? `last ${seconds}s` : `last ${Math.round(seconds / 60)} min`));
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
  // Neutral inks: the palette's colours stand for arms.
  curve(ucb, "#1d2330", "");
  curve(bucb, "#6b7385", "5 3");
  for (const a of stats.arms) {
    if (a.views < 1) continue;
    svg.append(el("circle", { cx: x(a.views), cy: y(ucb(a.views)), r: 3.5,
                              fill: colorOf(a.arm_id) }));
  }
  svg.append(el("text", { x: W - R - 4, y: T + 10, "text-anchor": "end", fill: "#1d2330" },
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
       Math.max(p.cold_max, 1e-6), (a) => a.views, "#1d2330",
       `coldness: max ${p.cold_max}, steepness ${p.cold_steepness}, threshold ${p.cold_threshold}`);
  const ctrMax = Math.min(1, Math.max(2 * p.hot_threshold + 4 / p.hot_steepness,
                                      ...stats.arms.map((a) => a.ctr * 1.1), 0.05));
  plot($("hot-chart"), hot, ctrMax, `CTR (to ${ctrMax.toFixed(2)})`,
       Math.max(p.hot_max, 1e-6), (a) => a.ctr, "#1d2330",
       `hotness: max ${p.hot_max}, steepness ${p.hot_steepness}, threshold ${p.hot_threshold}`);
}

// Thompson sampling draws each arm's score from its Beta posterior,
// Beta(prior_a + clicks, prior_b + views - clicks): the densities show how
// sure the room is about each arm and how often a draw can overtake.
function lgamma(x) {  // Lanczos approximation, x > 0
  const g = 7, c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028,
    771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaDensity(a, b) {
  const norm = lgamma(a + b) - lgamma(a) - lgamma(b);
  return (x) => (x <= 0 || x >= 1) ? 0
      : Math.exp(norm + (a - 1) * Math.log(x) + (b - 1) * Math.log(1 - x));
}

function drawPosteriors(stats) {
  const p = stats.policy;
  const thompson = p.kind === "thompson";
  $("posterior").hidden = !thompson;
  if (!thompson) return;
  const svg = $("posterior-chart");
  const arms = stats.arms.map((arm) => {
    const a = p.beta_prior_a + Math.max(arm.clicks, 0);
    const b = p.beta_prior_b + Math.max(arm.views - arm.clicks, 0);
    const mean = a / (a + b);
    const sd = Math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)));
    return { arm, a, b, mean, sd, f: betaDensity(a, b) };
  });
  // The x range covers every arm's mean +- 4 sd (within [0, 1]).
  const xMax = Math.min(1, Math.max(0.02, ...arms.map((d) => d.mean + 4 * d.sd)));
  const xMin = Math.max(0, Math.min(xMax - 0.02, ...arms.map((d) => d.mean - 4 * d.sd)));
  const xs = [];
  for (let i = 0; i <= 200; i++) xs.push(xMin + (xMax - xMin) * i / 200);
  let yMax = 0;
  for (const d of arms) for (const v of xs) yMax = Math.max(yMax, d.f(v));
  yMax = Math.max(yMax, 1e-9) * 1.05;
  frame(svg, yMax, "density", `CTR ${xMin.toFixed(3)} to ${xMax.toFixed(3)}`);
  const x = (v) => L + (v - xMin) / (xMax - xMin) * (W - L - R);
  const y = (v) => H - B - Math.min(v, yMax) / yMax * (H - B - T);
  for (const d of arms) {
    svg.append(el("polyline", {
      points: xs.map((v) => `${x(v)},${y(d.f(v))}`).join(" "),
      fill: "none", stroke: colorOf(d.arm.arm_id), "stroke-width": 2,
      "data-arm": d.arm.arm_id,
    }));
  }
  svg.append(el("text", { x: W - R - 4, y: T + 10, "text-anchor": "end" },
                `Beta(${p.beta_prior_a} + clicks, ${p.beta_prior_b} + views − clicks)`));
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
