// The dashboard page: a snapshot from /events, then batched deltas; every repaint is one
// animation frame, whatever the number of changes that arrived since the last one.
"use strict";

const LOG_KEEP = 300;
const HISTORY = 30;

const state = {
  rooms: new Map(),
  metrics: new Map(), // "room\u0000peer" -> { history: [bitrate...], last }
  log: [], // newest first
  connection: { state: "connecting" },
  synced: false,
  emulator: false,
};
const dirty = new Set();
let fullRender = true;
let logDirty = true;
let frame = 0;
let paused = false;
let unseen = 0;
const kinds = new Set();

const $ = (id) => document.getElementById(id);

function esc(text) {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function metadataText(metadata) {
  if (metadata === null || metadata === undefined) return "";
  const text = typeof metadata === "string" ? metadata : JSON.stringify(metadata);
  return text === "null" ? "" : text;
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(render);
}

function sparkline(history) {
  if (history.length < 2) return "";
  const max = Math.max(...history, 1);
  const step = 80 / (HISTORY - 1);
  const points = history
    .map((v, i) => `${(i * step).toFixed(1)},${(20 - (v / max) * 18).toFixed(1)}`)
    .join(" ");
  return `<svg class="spark" width="80" height="20" viewBox="0 0 80 20" aria-label="bitrate"><polyline fill="none" stroke="#1d4ed8" stroke-width="1.5" points="${points}"/></svg>`;
}

function peerNumbers(roomId, peerId) {
  const m = state.metrics.get(roomId + "\u0000" + peerId);
  if (!m) return "";
  const kbps = (m.last.bitrate / 1000).toFixed(0);
  return `<span class="numbers" data-bitrate="${m.last.bitrate}">${sparkline(m.history)} ${kbps} kbit/s, ${m.last.packets_lost} packets lost</span>`;
}

function roomHtml(room) {
  const controls = state.emulator
    ? `<span class="actions"><button data-action="add-peer">add peer</button><button data-action="delete-room">delete</button></span>`
    : "";
  const peers = room.peers
    .map((peer) => {
      const tracks = (peer.tracks || [])
        .map(
          (t) =>
            `<li class="track" data-track-id="${esc(t.id)}">${esc(t.type || "track")} <span class="metadata">${esc(metadataText(t.metadata))}</span></li>`
        )
        .join("");
      const peerControls = state.emulator
        ? `<button data-action="${peer.status === "connected" ? "disconnect" : "connect"}">${peer.status === "connected" ? "disconnect" : "connect"}</button><button data-action="add-video">+ video</button><button data-action="add-audio">+ audio</button>`
        : "";
      return `<li class="peer" data-peer-id="${esc(peer.id)}" data-peer-status="${esc(peer.status)}"><div class="peer-head"><span class="id">${esc(peer.id)}</span><span class="type">${esc(peer.type)}</span><span class="status">${esc(peer.status)}</span><span class="metadata">${esc(metadataText(peer.metadata))}</span>${peerNumbers(room.id, peer.id)}${peerControls}</div><ul class="tracks">${tracks}</ul></li>`;
    })
    .join("");
  const max = room.config && room.config.maxPeers != null ? `max ${esc(room.config.maxPeers)} peers` : "";
  return `<div class="room-head"><span class="id">${esc(room.id)}</span><span class="meta">${room.peers.length} peers ${max}</span>${controls}</div><ul class="peers">${peers}</ul>`;
}

function roomElement(room) {
  const element = document.createElement("article");
  element.className = "room";
  element.dataset.roomId = room.id;
  element.innerHTML = roomHtml(room);
  return element;
}

function findRoom(id) {
  return $("rooms").querySelector(`:scope > [data-room-id="${CSS.escape(id)}"]`);
}

function renderRooms() {
  const container = $("rooms");
  if (fullRender) {
    const fragment = document.createDocumentFragment();
    [...state.rooms.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .forEach((room) => fragment.appendChild(roomElement(room)));
    container.replaceChildren(fragment);
    fullRender = false;
    dirty.clear();
    return;
  }
  for (const id of dirty) {
    const room = state.rooms.get(id);
    const element = findRoom(id);
    if (!room) {
      if (element) element.remove();
    } else if (element) {
      element.innerHTML = roomHtml(room);
    } else {
      const fresh = roomElement(room);
      const after = [...container.children].find((e) => e.dataset.roomId > id);
      container.insertBefore(fresh, after || null);
    }
  }
  dirty.clear();
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

function logItem(entry) {
  const item = document.createElement("li");
  item.dataset.kind = entry.kind;
  if (entry.room) item.dataset.room = entry.room;
  if (entry.synthesized) item.classList.add("synthesized");
  const text = entry.text || JSON.stringify(entry.body || {});
  item.innerHTML = `<span class="when">${clock(entry.at)}</span><span class="kind">${esc(entry.kind)}</span>${entry.synthesized ? "(made up after a gap) " : ""}<span class="text">${esc(text)}</span>`;
  return item;
}

function applyFilter(item) {
  const kind = $("filter-kind").value;
  const room = $("filter-room").value.trim();
  const hidden = (kind && item.dataset.kind !== kind) || (room && item.dataset.room !== room);
  item.classList.toggle("hidden-by-filter", Boolean(hidden));
}

function renderLog() {
  const list = $("log");
  const fragment = document.createDocumentFragment();
  state.log.forEach((entry) => {
    const item = logItem(entry);
    applyFilter(item);
    fragment.appendChild(item);
  });
  list.replaceChildren(fragment);
  const select = $("filter-kind");
  const known = new Set([...select.options].map((o) => o.value));
  [...kinds].sort().forEach((kind) => {
    if (!known.has(kind)) select.add(new Option(kind, kind));
  });
  logDirty = false;
}

function renderBadge() {
  const badge = $("badge");
  const c = state.connection;
  badge.dataset.connectionState = c.state;
  let text = c.state;
  if (c.state === "connected") {
    text = "connected" + (c.last_gap_ms != null ? ` (last gap ${(c.last_gap_ms / 1000).toFixed(1)} s)` : "");
  } else if (c.state === "reconnecting" && c.reason) {
    const wait = Math.max(0, (c.next_attempt_ms - Date.now()) / 1000);
    text = `reconnecting: ${c.reason}; next attempt in ${wait.toFixed(0)} s`;
  } else if (c.state === "failed") {
    text = `failed: ${c.reason}`;
  } else if (c.state === "offline") {
    text = "the dashboard's server is unreachable; retrying";
  }
  badge.textContent = text;
  const synced = $("synced");
  synced.dataset.synced = String(state.synced);
  synced.textContent = state.synced ? "synced" : "not synced";
  let peers = 0;
  state.rooms.forEach((room) => (peers += room.peers.length));
  $("counts").textContent = `${state.rooms.size} rooms, ${peers} peers` + (paused && unseen ? `, ${unseen} new log entries (paused)` : "");
  $("controls").hidden = !state.emulator;
}

function render() {
  frame = 0;
  renderRooms();
  if (logDirty && !paused) renderLog();
  renderBadge();
}

function addLog(entries) {
  entries.forEach((entry) => {
    kinds.add(entry.kind);
    state.log.unshift(entry);
  });
  if (state.log.length > LOG_KEEP) state.log.length = LOG_KEEP;
  if (paused) unseen += entries.length;
  logDirty = true;
}

function addMetrics(peers) {
  peers.forEach((p) => {
    const key = p.room + "\u0000" + p.peer;
    const m = state.metrics.get(key) || { history: [] };
    m.history.push(p.bitrate);
    if (m.history.length > HISTORY) m.history.shift();
    m.last = p;
    state.metrics.set(key, m);
    dirty.add(p.room);
  });
}

function apply(event) {
  switch (event.t) {
    case "snapshot":
      state.rooms = new Map(event.rooms.map((room) => [room.id, room]));
      state.synced = event.synced;
      state.connection = event.connection;
      state.emulator = event.emulator;
      state.log = [];
      addLog(event.log);
      state.metrics = new Map();
      addMetrics(event.metrics);
      fullRender = true;
      break;
    case "batch":
      event.events.forEach(apply);
      break;
    case "rooms":
      event.upsert.forEach((room) => {
        state.rooms.set(room.id, room);
        dirty.add(room.id);
      });
      event.gone.forEach((id) => {
        state.rooms.delete(id);
        dirty.add(id);
      });
      break;
    case "synced":
      state.synced = event.synced;
      break;
    case "connection":
      state.connection = event.connection;
      break;
    case "log":
      addLog(event.entries);
      break;
    case "metrics":
      addMetrics(event.peers);
      break;
  }
}

function connect() {
  const source = new EventSource("/events");
  source.onmessage = (message) => {
    apply(JSON.parse(message.data));
    schedule();
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
    state.connection = { state: "offline" };
    schedule();
  };
}

async function api(method, path, body) {
  const status = $("control-status");
  status.textContent = `${method} ${path}…`;
  try {
    const response = await fetch("/api/request", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ method, path, body }),
    });
    const text = await response.text();
    status.textContent = response.ok ? `${method} ${path}: done` : `${method} ${path}: ${response.status} ${text}`;
  } catch (error) {
    status.textContent = `${method} ${path}: ${error}`;
  }
}

const seg = encodeURIComponent;

function onRoomsClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const room = button.closest("[data-room-id]").dataset.roomId;
  const peerElement = button.closest("[data-peer-id]");
  const peer = peerElement && peerElement.dataset.peerId;
  switch (button.dataset.action) {
    case "delete-room":
      api("DELETE", `/room/${seg(room)}`);
      break;
    case "add-peer":
      api("POST", `/room/${seg(room)}/peer`, { type: "webrtc", options: {} });
      break;
    case "connect":
    case "disconnect":
      api("POST", `/emulator/room/${seg(room)}/peer/${seg(peer)}/${button.dataset.action}`);
      break;
    case "add-video":
    case "add-audio":
      api("POST", `/emulator/room/${seg(room)}/peer/${seg(peer)}/track`, {
        type: button.dataset.action === "add-video" ? "video" : "audio",
        metadata: { source: "dashboard" },
      });
      break;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("rooms").addEventListener("click", onRoomsClick);
  $("new-room").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("new-room-id").value.trim();
    api("POST", "/room", id ? { roomId: id } : {});
    $("new-room-id").value = "";
  });
  document.querySelectorAll("button[data-fault]").forEach((button) =>
    button.addEventListener("click", () => api("POST", `/emulator/faults/${button.dataset.fault}`, {}))
  );
  const refilter = () => document.querySelectorAll("#log li").forEach(applyFilter);
  $("filter-kind").addEventListener("change", refilter);
  $("filter-room").addEventListener("input", refilter);
  $("pause").addEventListener("change", (event) => {
    paused = event.target.checked;
    if (!paused) {
      unseen = 0;
      logDirty = true;
    }
    schedule();
  });
  // The badge's countdown.
  setInterval(() => {
    if (state.connection.state === "reconnecting") schedule();
  }, 1000);
  connect();
});
