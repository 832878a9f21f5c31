// bootfs console: live updates (Server-Sent Events), confirmations, and
// the upload of a custom image in pieces with a progress bar. The page works
// without this script; it only adds to it.
"use strict";
(function () {
  const live = document.getElementById("live");
  const dot = document.getElementById("live-state");

  // Live updates: the region sends the re-rendered <main id="live">. What
  // the operator is doing survives a swap: ticked boxes and focus are put
  // back, and no swap happens while a mouse button or finger is down.
  let pressed = false, pending = null;
  function key(el) {
    const f = el.form, parts = [f ? f.getAttribute("action") : ""];
    if (f) f.querySelectorAll("input[type=hidden]:not([name=csrf])").forEach((h) => parts.push(h.name + "=" + h.value));
    parts.push(el.name || el.id || el.tagName);
    return parts.join("|");
  }
  function swap(html) {
    const checked = new Set(), active = document.activeElement;
    live.querySelectorAll("input[type=checkbox]").forEach((c) => { if (c.checked) checked.add(key(c)); });
    const focus = active && live.contains(active) ? key(active) : null;
    live.innerHTML = html;
    live.querySelectorAll("input[type=checkbox]").forEach((c) => { if (checked.has(key(c))) c.checked = true; });
    if (focus) {
      const el = Array.from(live.querySelectorAll("input,button")).find((e) => key(e) === focus);
      if (el) el.focus();
    }
    bindConfirm(live);
  }
  function listen() {
    if (!window.EventSource || !live) return;
    live.addEventListener("pointerdown", () => { pressed = true; });
    document.addEventListener("pointerup", () => {
      pressed = false;
      if (pending !== null) { const h = pending; pending = null; setTimeout(() => { if (!pressed) swap(h); else pending = h; }, 300); }
    });
    const es = new EventSource("/console/events");
    es.addEventListener("live", (e) => {
      if (pressed) pending = e.data; else swap(e.data);
      if (dot) { dot.className = "on"; dot.title = "live: updated " + new Date().toLocaleTimeString(); }
    });
    es.onerror = () => { if (dot) { dot.className = "off"; dot.title = "reconnecting"; } };
  }

  // Forms with data-confirm ask first.
  function bindConfirm(root) {
    root.querySelectorAll("form[data-confirm]").forEach((f) => {
      f.addEventListener("submit", (e) => { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
    });
  }

  // sha256 of a File as hex: WebCrypto where the page is a secure context
  // (https or localhost) and the file fits in memory comfortably, else the
  // streaming pure-JS implementation in sha256.js.
  async function fileSHA256(file, onProgress) {
    if (window.crypto && crypto.subtle && file.size <= 256 * 1024 * 1024) {
      const d = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
      onProgress(file.size);
      return hex(new Uint8Array(d));
    }
    const h = new window.BootfsSHA256();
    const step = 4 * 1024 * 1024;
    for (let off = 0; off < file.size; off += step) {
      h.update(new Uint8Array(await file.slice(off, off + step).arrayBuffer()));
      onProgress(Math.min(off + step, file.size));
    }
    return h.hex();
  }
  function hex(b) { return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""); }

  async function api(method, path, csrf, body, type) {
    const headers = { "X-CSRF-Token": csrf };
    if (type) headers["Content-Type"] = type;
    const r = await fetch(path, { method, headers, body, credentials: "same-origin" });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch (_) { /* an error text */ }
    return { status: r.status, json, text };
  }

  const CHUNK = 8 * 1024 * 1024;

  async function upload(form) {
    const bar = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    const say = (t) => { status.textContent = t; };
    const csrf = form.dataset.csrf;
    const file = form.elements.file.files[0];
    if (!file) { say("Choose a file first."); return; }
    bar.hidden = false; bar.max = file.size || 1; bar.value = 0;
    say("Hashing " + file.name + "…");
    const sha = await fileSHA256(file, (n) => { bar.value = n; });
    bar.value = 0; // the same bar now shows what the region has
    const start = {
      name: form.elements.name.value.trim(), architecture: form.elements.architecture.value.trim(),
      filetype: form.elements.filetype.value, title: form.elements.title.value.trim(),
      base_image: form.elements.base_image.value.trim(), sha256: sha, size: file.size,
    };
    let r = await api("POST", "/api/v1/uploads", csrf, JSON.stringify(start), "application/json");
    if (r.status >= 300 || !r.json) { say("Refused: " + r.text.trim()); return; }
    let up = r.json;
    bar.value = up.received;
    while (!up.done && up.received < file.size) {
      const off = up.received;
      say("Sending: " + Math.floor(100 * off / file.size) + "%");
      r = await api("PUT", "/api/v1/uploads/" + encodeURIComponent(up.id) + "?offset=" + off, csrf,
        file.slice(off, off + CHUNK), "application/octet-stream");
      if (r.status === 409 && r.json) { up = r.json; continue; } // the region has a different offset: resume there
      if (r.status >= 300 || !r.json) { say("Refused: " + r.text.trim()); return; }
      up = r.json;
      bar.value = up.received;
    }
    bar.value = file.size;
    say("Uploaded and verified: " + (up.resource || start.name) + (up.version ? " " + up.version : "") + ".");
    form.dataset.done = "1";
  }

  document.addEventListener("DOMContentLoaded", () => {
    bindConfirm(document);
    const form = document.getElementById("upload");
    if (form) {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const btn = form.querySelector("button[type=submit]");
        btn.disabled = true;
        upload(form).catch((err) => {
          document.getElementById("upload-status").textContent = "Upload failed: " + err;
        }).finally(() => { btn.disabled = false; });
      });
    }
    listen();
  });
})();
