// The Spirit LM page: build a request, stream the answer over POST /v1/stream (Server-Sent Events),
// play audio chunks as they arrive, draw the token timeline. No libraries, nothing from the internet.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { speech: null, speechName: "", ctrl: null, audio: null, playAt: 0, pcm: [], rate: 16000,
                prompt: [], events: [], chunks: [], played: 0 };
window.spirit = state;  // for the browser test and the curious

function showError(message) { const e = $("error"); e.textContent = message; e.hidden = !message; }

async function errorText(resp) {
  try { const body = await resp.json(); return `${resp.status}: ${body.error || JSON.stringify(body)}`; }
  catch (_) { return `${resp.status} ${resp.statusText}`; }
}

fetch("/health").then((r) => r.json()).then((h) => { $("model").textContent = `${h.model} (${h.variant})`; })
  .catch(() => showError("the server does not answer /health"));

// ---------------------------------------------------------------- speech input: upload or microphone
function toBase64(bytes) {
  let s = ""; const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) s += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  return btoa(s);
}
function setSpeech(bytes, name) {
  state.speech = bytes ? toBase64(bytes) : null; state.speechName = name || "";
  $("speech-info").textContent = bytes ? `speech: ${name} (${(bytes.length / 1024).toFixed(0)} kB)` : "no speech input";
  $("clear-speech").hidden = !bytes;
}
$("file").addEventListener("change", async (ev) => {
  const f = ev.target.files[0];
  if (f) setSpeech(new Uint8Array(await f.arrayBuffer()), f.name);
});
$("clear-speech").addEventListener("click", () => { setSpeech(null); $("file").value = ""; });

function encodeWav(samples, rate) {  // Float32Array -> 16-bit PCM wav bytes
  const buf = new ArrayBuffer(44 + samples.length * 2), v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + samples.length * 2, true); str(8, "WAVEfmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true); str(36, "data");
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + i * 2, Math.max(-1, Math.min(1, samples[i])) * 32767, true);
  return new Uint8Array(buf);
}

let rec = null;
$("record").addEventListener("click", async () => {
  if (rec) {  // stop
    rec.stream.getTracks().forEach((t) => t.stop()); rec.node.disconnect(); await rec.ctx.close();
    const n = rec.parts.reduce((a, p) => a + p.length, 0), all = new Float32Array(n);
    let o = 0; for (const p of rec.parts) { all.set(p, o); o += p.length; }
    setSpeech(encodeWav(all, rec.ctx.sampleRate), `recording ${(n / rec.ctx.sampleRate).toFixed(1)} s`);
    rec = null; $("record").textContent = "● Record"; $("record").classList.remove("recording");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const ctx = new AudioContext(), src = ctx.createMediaStreamSource(stream);
    const node = ctx.createScriptProcessor(4096, 1, 1), parts = [];
    node.onaudioprocess = (e) => parts.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    src.connect(node); node.connect(ctx.destination);
    rec = { stream, ctx, node, parts };
    $("record").textContent = "■ Stop recording"; $("record").classList.add("recording");
  } catch (e) { showError(`microphone: ${e.message} (browsers allow the microphone on 127.0.0.1 or over https)`); }
});

// ---------------------------------------------------------------- the request
function num(id) { const v = $(id).value.trim(); return v === "" ? null : Number(v); }
function buildRequest() {
  const inputs = [];
  const text = $("text").value;
  if (text.trim()) inputs.push({ type: "text", text });
  if (state.speech) inputs.push({ type: "speech", audio: state.speech });
  const body = { inputs, output_modality: $("modality").value, max_new_tokens: num("max_new_tokens") };
  if ($("greedy").checked) body.do_sample = false;
  else for (const k of ["temperature", "top_p", "seed"]) { const v = num(k); if (v !== null) body[k] = v; }
  const spk = num("speaker_id"); if (spk !== null) body.speaker_id = spk;
  return body;
}

function resetAnswer() {
  showError(""); $("answer").textContent = ""; $("status").textContent = ""; $("download").hidden = true;
  Object.assign(state, { prompt: [], events: [], chunks: [], pcm: [], played: 0 });
  if (!state.audio) state.audio = new AudioContext();
  state.audio.resume(); state.playAt = 0;
  draw();
}

async function playChunk(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const buf = await state.audio.decodeAudioData(bytes.buffer.slice(0));
  state.pcm.push(buf.getChannelData(0).slice()); state.rate = buf.sampleRate;
  const src = state.audio.createBufferSource(); src.buffer = buf; src.connect(state.audio.destination);
  const at = Math.max(state.audio.currentTime + 0.05, state.playAt);
  src.onended = () => { state.played += buf.duration; };
  src.start(at); state.playAt = at + buf.duration;
}

function onEvent(name, data) {
  if (name === "prompt") state.prompt = data.tokens;
  else if (name === "token") state.events.push(data);
  else if (name === "text") $("answer").textContent += data.text;
  else if (name === "audio") { state.chunks.push(data); playChunk(data.audio); }
  else if (name === "warning") showError(data.message);
  else if (name === "error") showError(`${data.status}: ${data.error}`);
  else if (name === "done") finish(data);
  draw();
}

function finish(d) {
  const t = d.timings;
  const f = (x) => (x === null || x === undefined ? "–" : `${(x * 1000).toFixed(0)} ms`);
  $("status").textContent = `stopped by ${d.finish_reason}; ${d.new_tokens} new tokens in ${f(t.total_s)}; ` +
    `first token ${f(t.first_token_s)}, first audio ${f(t.first_audio_s)}, ${t.audio_seconds} s of speech`;
  if (!$("answer").textContent) {
    $("answer").textContent = d.outputs.map((o) => (o.type === "text" ? o.text
      : `(speech: ${(o.units.match(/\[Hu/g) || []).length} units) ${o.units.slice(0, 120)}…`)).join("\n");
  }
  if (state.pcm.length) {
    const n = state.pcm.reduce((a, p) => a + p.length, 0), all = new Float32Array(n);
    let o = 0; for (const p of state.pcm) { all.set(p, o); o += p.length; }
    $("download").href = URL.createObjectURL(new Blob([encodeWav(all, state.rate)], { type: "audio/wav" }));
    $("download").hidden = false;
  }
}

$("go").addEventListener("click", async () => {
  resetAnswer();
  const body = buildRequest();
  if (!body.inputs.length) { showError("give a prompt: type text, upload audio or record"); return; }
  const headers = { "Content-Type": "application/json" };
  if ($("token").value) headers.Authorization = `Bearer ${$("token").value}`;
  state.ctrl = new AbortController(); $("go").disabled = true; $("stop").disabled = false;
  try {
    const resp = await fetch("/v1/stream", { method: "POST", headers, body: JSON.stringify(body), signal: state.ctrl.signal });
    if (!resp.ok) { showError(await errorText(resp)); return; }
    const reader = resp.body.getReader(), dec = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += dec.decode(value, { stream: true });
      let cut;
      while ((cut = pending.indexOf("\n\n")) >= 0) {
        const block = pending.slice(0, cut); pending = pending.slice(cut + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7); else if (line.startsWith("data: ")) data += line.slice(6);
        }
        onEvent(name, JSON.parse(data));
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") showError(`the request failed: ${e.message}`);
  } finally { $("go").disabled = false; $("stop").disabled = true; state.ctrl = null; }
});
$("stop").addEventListener("click", () => state.ctrl && state.ctrl.abort());

// ---------------------------------------------------------------- token timeline
const ROWS = { text: 0, marker: 0, Hu: 1, Pi: 2, St: 3 };
const COLORS = { text: "#444", marker: "#999", Hu: "#2f6fde", Pi: "#e0861a", St: "#8a3fc2" };
function draw() {
  const c = $("timeline"), g = c.getContext("2d"), W = c.width, H = c.height;
  g.clearRect(0, 0, W, H); g.font = "12px sans-serif";
  const split = Math.round(W * 0.3), top = 24, rowH = (H - top - 20) / 4;
  const names = ["text", "[Hu]", "[Pi]", "[St]"];
  g.fillStyle = "#666";
  g.fillText("prompt (by token)", 40, 14); g.fillText("answer (seconds since the request)", split + 10, 14);
  names.forEach((n, i) => g.fillText(n, 2, top + i * rowH + rowH / 2 + 4));
  g.strokeStyle = "#ccd"; g.beginPath(); g.moveTo(split, 0); g.lineTo(split, H); g.stroke();
  const lane = (x0, x1, items, xOf) => {
    for (const [i, e] of items.entries()) {
      const row = ROWS[e.stream] ?? 0, x = xOf(e, i), y = top + row * rowH;
      g.fillStyle = COLORS[e.stream] || "#999";
      if (e.stream === "text" || e.stream === "marker") {
        g.fillRect(x, y + 4, 2, rowH - 8);
        if (e.stream === "text" && String(e.value).trim()) g.fillText(String(e.value).trim().slice(0, 8), x + 3, y + rowH / 2 + (i % 2) * 12);
      } else if (e.stream === "Pi") {
        g.fillRect(x - 1, y + rowH - 4 - (e.value / 64) * (rowH - 8), 3, 3);
      } else g.fillRect(x, y + rowH - 4 - (e.value / 501) * (rowH - 8), 2, 4);
    }
    const pitch = items.map((e, i) => [e, i]).filter(([e]) => e.stream === "Pi");  // the pitch curve
    if (pitch.length > 1) {
      g.strokeStyle = COLORS.Pi; g.beginPath();
      pitch.forEach(([e, i], k) => { const x = xOf(e, i), y = top + 2 * rowH + rowH - 4 - (e.value / 64) * (rowH - 8);
        k ? g.lineTo(x, y) : g.moveTo(x, y); });
      g.stroke();
    }
  };
  const p = state.prompt, np = Math.max(p.length, 1);
  lane(40, split - 6, p, (e, i) => 40 + ((split - 50) * i) / np);
  const ev = state.events, tMax = Math.max(1, ...ev.map((e) => e.t), ...state.chunks.map((a) => a.t)) * 1.05;
  const xt = (t) => split + 10 + ((W - split - 20) * t) / tMax;
  lane(split + 10, W - 10, ev, (e) => xt(e.t));
  g.fillStyle = "#1a9a50";
  for (const a of state.chunks) { g.fillRect(xt(a.t), H - 16, Math.max(3, (a.seconds / tMax) * (W - split - 20)), 8); }
  g.fillStyle = "#666"; g.fillText(`${tMax.toFixed(2)} s`, W - 50, H - 2); g.fillText("0", split + 8, H - 2);
  g.fillText("audio", split - 40, H - 8);
}
draw();
