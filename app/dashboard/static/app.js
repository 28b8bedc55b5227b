// PixelFlow's dashboard: a client of the public API. No framework, no CDN; the key lives in sessionStorage (and in
// a SameSite=Strict cookie for the event streams, which an EventSource reads without an Authorization header).
"use strict";

const KEY = "pixelflow.key";
const STEPS = ["fetch", "validate", "transform", "upload"];  // what a job's event stream tells, as they run
const ENDED = ["succeeded", "failed", "canceled"];
const $ = (id) => document.getElementById(id);
let uploadedKey = null;
let watching = null;
let following = null;  // the open batch's EventSource

function show(el, visible) { el.hidden = !visible; }

function fail(message) {
  const box = $("error");
  box.textContent = message;
  show(box, true);
}

function clearError() { show($("error"), false); }

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((data && data.message) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    error.code = data && data.code;
    throw error;
  }
  return data;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

// Sign in: the key is checked against the API before the page shows anything else.
async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    await api("GET", "/v1/jobs?limit=1");
  } catch (error) {
    sessionStorage.removeItem(KEY);
    keyCookie(null);
    fail(error.status === 401 ? "That API key was refused (unauthorized). Check it and sign in again." : `Could not sign in: ${error.message}`);
    return;
  }
  clearError();
  keyCookie(key);
  show($("login"), false);
  show($("app"), true);
  show($("logout"), true);
  await Promise.all([loadPresets(), listJobs(), listBatches(), loadUsage(), loadLetters()]);
  $("file").focus();
}

async function loadPresets() {
  const box = $("presets");
  box.querySelectorAll("div").forEach((d) => d.remove());
  const doc = await fetch("/openapi.json").then((r) => r.json());
  const request = doc.components.schemas.JobRequest || {};
  const names = (((request.properties || {}).presets || {}).items || {}).enum || [];
  for (const name of names) {
    const div = document.createElement("div");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.id = `preset-${name}`;
    input.value = name;
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.textContent = name;
    div.append(input, label);
    box.appendChild(div);
  }
}

// Upload: the API hands out a presigned PUT; the bytes go from the browser to storage.
async function upload(file) {
  $("uploaded").textContent = `Uploading ${file.name}…`;
  try {
    const slot = await api("POST", "/v1/uploads", { content_type: file.type || "image/jpeg", file_name: file.name });
    const put = await fetch(slot.url, { method: "PUT", headers: slot.headers, body: file });
    if (!put.ok) throw new Error(`storage answered ${put.status}`);
    uploadedKey = slot.key;
    $("uploaded").textContent = `Uploaded ${file.name} (${file.size} bytes).`;
  } catch (error) {
    uploadedKey = null;
    $("uploaded").textContent = "";
    fail(`Upload failed: ${error.message}`);
  }
}

async function createJob() {
  clearError();
  const url = $("source-url").value.trim();
  const source = url ? { url } : uploadedKey ? { key: uploadedKey } : null;
  if (!source) { fail("Upload an image or give its URL first."); return; }
  const presets = [...$("presets").querySelectorAll("input:checked")].map((i) => i.value);
  const outputs = [];
  const width = parseInt($("out-width").value, 10);
  if ($("out-name").value.trim()) {
    outputs.push({ name: $("out-name").value.trim(), format: $("out-format").value, ...(width > 0 ? { width } : {}) });
  }
  try {
    const job = await api("POST", "/v1/jobs", { source, presets, outputs });
    watch(job.id);
    listJobs();
  } catch (error) {
    fail(`The job was refused: ${error.message}`);
  }
}

// The key for the event streams: an EventSource sends no Authorization header, only the page's cookies.
function keyCookie(key) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = key
    ? `pixelflow_key=${key}; Path=/v1/; SameSite=Strict${secure}`
    : "pixelflow_key=; Path=/v1/; Max-Age=0; SameSite=Strict";
}

function stopWatching() {
  if (watching) watching.close();
  watching = null;
}

// A job, live: read once, then followed on its event stream (GET /v1/jobs/{id}/events) until it ends.
async function watch(id) {
  stopWatching();
  show($("job"), true);
  $("job-id").textContent = id;
  let job;
  try { job = await api("GET", `/v1/jobs/${id}`); } catch (error) { fail(error.message); return; }
  render(job);
  if (ENDED.includes(job.status)) return;
  const source = new EventSource(`/v1/jobs/${id}/events`);
  watching = source;
  const step = (event, change) => {
    const data = JSON.parse(event.data);
    change(data);
    render(job);
  };
  source.addEventListener("job.started", (e) => step(e, () => { job.status = "processing"; }));
  source.addEventListener("step.started", (e) => step(e, (d) => { job.running = d.step; }));
  source.addEventListener("step.ended", (e) => step(e, (d) => {
    job.steps = [...new Set([...(job.steps || []), d.step])];
    if (job.running === d.step) job.running = null;
  }));
  source.addEventListener("job.ended", (e) => {
    source.close();
    if (watching === source) watching = null;
    job = JSON.parse(e.data);
    render(job);
    listJobs();
  });
}

function render(job) {
  $("job-status").textContent = job.status;
  const steps = $("steps");
  const done = job.steps || [];
  // The step a processing job is at: the one told started, else the first not ended yet.
  const at = job.status === "processing" ? job.running || STEPS.find((s) => !done.includes(s)) : null;
  steps.replaceChildren(...STEPS.map((name) => {
    const li = document.createElement("li");
    const ended = done.includes(name);
    li.textContent = `${name}${ended ? " ✓" : name === at ? " …" : ""}`;
    li.className = ended ? "done" : name === at ? "running" : "";
    return li;
  }));
  $("job-error").textContent = job.error ? `${job.error.code}: ${job.error.message}` : "";
  const cancel = $("cancel");
  show(cancel, !ENDED.includes(job.status));
  cancel.onclick = async () => {
    try { render(await api("POST", `/v1/jobs/${job.id}/cancel`)); } catch (error) { fail(error.message); }
    listJobs();
  };
  const outputs = $("outputs");
  outputs.replaceChildren();
  if (job.status !== "succeeded") return;
  const source = job.source.bytes || 0;
  for (const o of job.outputs) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.alt = `${o.name}: ${o.format}, ${o.width}×${o.height}`;
    if (o.url) img.src = o.url;
    const caption = document.createElement("figcaption");
    const saved = source ? Math.round(100 * (1 - o.bytes / source)) : 0;
    caption.textContent = `${o.name} · ${o.format} · ${o.width}×${o.height} · ${o.bytes} bytes · ${saved}% saved`;
    figure.append(img, caption);
    outputs.appendChild(figure);
  }
}

async function listJobs() {
  const status = $("filter").value;
  let page;
  try { page = await api("GET", `/v1/jobs?limit=20${status ? `&status=${status}` : ""}`); } catch (error) { fail(error.message); return; }
  const body = $("jobs").tBodies[0];
  body.replaceChildren();
  for (const job of page.items) {
    const row = body.insertRow();
    const open = button(job.id.slice(0, 13) + "…", () => { watch(job.id); loadDeliveries(job.id); });
    open.setAttribute("aria-label", `Open job ${job.id}`);
    cell(row, "").appendChild(open);
    cell(row, job.status);
    cell(row, new Date(job.created_at).toLocaleString());
    const actions = cell(row, "");
    if (!ENDED.includes(job.status)) actions.appendChild(button("Cancel", () => act(job.id, "cancel")));
    if (job.status === "failed" || job.status === "canceled") actions.appendChild(button("Retry", () => act(job.id, "retry")));
  }
}

async function act(id, what) {
  try { await api("POST", `/v1/jobs/${id}/${what}`); } catch (error) { fail(error.message); }
  listJobs();
}

async function loadDeliveries(id) {
  const body = $("deliveries").tBodies[0];
  body.replaceChildren();
  try {
    for (const d of (await api("GET", `/v1/jobs/${id}/deliveries`)).items) {
      const row = body.insertRow();
      cell(row, String(d.attempt));
      cell(row, d.status_code === null ? "—" : String(d.status_code));
      cell(row, d.error || "");
      cell(row, new Date(d.created_at).toLocaleString());
    }
  } catch (error) { fail(error.message); }
}

async function loadUsage() {
  const body = $("usage").tBodies[0];
  body.replaceChildren();
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  const days = [...Array(7).keys()].map((i) => new Date(today.getTime() - (6 - i) * 86400000));
  const sums = await Promise.all(days.map((day) => api("GET",
    `/v1/usage?from=${day.toISOString()}&to=${new Date(day.getTime() + 86400000).toISOString()}`).catch(() => null)));
  const most = Math.max(1, ...sums.map((s) => (s ? s.bytes_saved : 0)));
  days.forEach((day, i) => {
    const s = sums[i] || { jobs: 0, bytes_saved: 0 };
    const row = body.insertRow();
    cell(row, day.toISOString().slice(0, 10));
    cell(row, String(s.jobs));
    cell(row, String(s.bytes_saved));
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.round(100 * s.bytes_saved / most)}%`;  // CSSOM: allowed by the page's CSP
    cell(row, "").appendChild(bar);
  });
}

// Batches: the list, and one batch followed on its event stream (GET /v1/batches/{id}/events).
async function listBatches() {
  let page;
  try { page = await api("GET", "/v1/batches?limit=10"); } catch (error) { fail(error.message); return; }
  const body = $("batches").tBodies[0];
  body.replaceChildren();
  for (const batch of page.items) {
    const row = body.insertRow();
    cell(row, batch.id);
    cell(row, batch.status);
    cell(row, String(batch.items));
    const c = batch.counts;
    cell(row, String(c.succeeded + c.failed + c.canceled));
    cell(row, "").appendChild(button("Open", () => openBatch(batch.id)));
  }
}

function showBatch(batch) {
  $("batch-status").textContent = batch.status;
  const c = batch.counts;
  const ended = c.succeeded + c.failed + c.canceled;
  $("batch-counts").textContent =
    `${ended} of ${batch.items} ended: ${c.succeeded} succeeded, ${c.failed} failed, ${c.canceled} canceled, ${c.processing} running, ${c.queued} queued`;
  $("batch-progress").max = batch.items;
  $("batch-progress").value = ended;
  show($("batch-cancel"), c.queued + c.processing > 0);
  show($("batch-retry"), ended === batch.items && c.failed > 0);
}

async function listBatchJobs(id) {
  const status = $("batch-filter").value;
  let page;
  try { page = await api("GET", `/v1/batches/${id}?limit=50${status ? `&status=${status}` : ""}`); } catch (error) { fail(error.message); return; }
  const body = $("batch-jobs").tBodies[0];
  body.replaceChildren();
  for (const job of page.jobs) {
    const row = body.insertRow();
    cell(row, "").appendChild(button(job.id, () => watch(job.id)));
    cell(row, job.status);
    cell(row, job.error ? job.error.code : "");
  }
}

async function openBatch(id) {
  if (following) following.close();
  following = null;
  show($("batch"), true);
  $("batch-id").textContent = id;
  let batch;
  try { batch = await api("GET", `/v1/batches/${id}?limit=1`); } catch (error) { fail(error.message); return; }
  showBatch(batch);
  const manifest = $("batch-manifest");
  const finished = (doc) => {
    show(manifest, Boolean(doc.manifest_url));
    if (doc.manifest_url) manifest.href = doc.manifest_url;
  };
  finished(batch);
  $("batch-filter").onchange = () => listBatchJobs(id);
  $("batch-cancel").onclick = async () => {
    try { showBatch(await api("POST", `/v1/batches/${id}/cancel`)); } catch (error) { fail(error.message); }
  };
  $("batch-retry").onclick = async () => {
    try { showBatch(await api("POST", `/v1/batches/${id}/retry`)); } catch (error) { fail(error.message); return; }
    openBatch(id);
  };
  listBatchJobs(id);
  if (batch.finished_at) return;
  const source = new EventSource(`/v1/batches/${id}/events`);
  following = source;
  let pending = null;  // the jobs' table is read again at most twice a second
  source.addEventListener("batch.counts", (e) => {
    const counts = JSON.parse(e.data);
    showBatch({ ...batch, ...counts });
    if (!pending) pending = setTimeout(() => { pending = null; listBatchJobs(id); }, 500);
  });
  source.addEventListener("batch.finished", (e) => {
    source.close();
    if (following === source) following = null;
    batch = JSON.parse(e.data);
    showBatch(batch);
    finished(batch);
    listBatchJobs(id);
    listBatches();
  });
}

// Admin keys also see the dead letters of their tenant's jobs.
async function loadLetters() {
  let letters;
  try { letters = await api("GET", "/v1/dead-letters"); } catch { show($("letters-section"), false); return; }
  show($("letters-section"), true);
  const body = $("letters").tBodies[0];
  body.replaceChildren();
  for (const l of letters.items) {
    const row = body.insertRow();
    cell(row, String(l.id));
    cell(row, l.job_id || "—");
    cell(row, l.task);
    cell(row, l.reason);
  }
}

function signOut() {
  sessionStorage.removeItem(KEY);
  keyCookie(null);
  stopWatching();
  if (following) following.close();
  following = null;
  show($("app"), false);
  show($("logout"), false);
  show($("login"), true);
  $("key").value = "";
  $("key").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (event) => { event.preventDefault(); signIn($("key").value.trim()); });
  $("logout").addEventListener("click", signOut);
  $("file").addEventListener("change", () => { if ($("file").files[0]) upload($("file").files[0]); });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files[0]) upload(event.dataTransfer.files[0]);
  });
  drop.addEventListener("click", () => $("file").click());
  drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") $("file").click(); });
  $("submit").addEventListener("click", createJob);
  $("filter").addEventListener("change", listJobs);
  if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY));
  else $("key").focus();
});
