// nyeshc studio: the page. Plain JavaScript, no build step.
// Everything arrives as server-sent events from /events (the latest of each kind first):
//   check    diagnostics and the sources' text, after every save
//   progress the running build (stage, done/total, message, the build's own diagnostics)
//   preview  a new video (/preview/preview-<hex>.mp4) and its timeline picture (/timeline.svg)
//   queued   a save arrived while a build runs; it will be built next
// Text from the script is only ever set with textContent, and the SVG is stripped of scripts
// and event attributes before it is inserted (the server's Content-Security-Policy forbids
// them as well).
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const video = $("player");
  const timelineBox = $("timeline");
  const STAGES = {
    planning: "Planning", jobs: "Running jobs", render: "Rendering", done: "Ready",
    failed: "Failed", stopped: "Stopped", waiting: "Errors",
  };

  let previewUrl = null;   // the video the player shows
  let axis = null;         // {left, pxPerSecond} from the timeline's root element
  let playhead = null;     // the <line> drawn over the timeline
  let checkDiagnostics = [];
  let buildDiagnostics = [];
  let files = [];

  // ---------------------------------------------------------------- diagnostics and script

  function key(d) { return `${d.file}\u0000${d.start}\u0000${d.code}`; }

  function allDiagnostics() {
    const seen = new Set(checkDiagnostics.map(key));
    return checkDiagnostics.concat(buildDiagnostics.filter((d) => !seen.has(key(d))));
  }

  function lineId(file, line) { return `L${encodeURIComponent(file)}:${line}`; }

  function showLine(file, line) {
    const el = document.getElementById(lineId(file, line));
    if (!el) return;
    el.scrollIntoView({ block: "center" });
    el.classList.add("flash");
    setTimeout(() => el.classList.remove("flash"), 1200);
  }

  function renderDiagnostics() {
    const list = $("diagnostics");
    const found = allDiagnostics();
    const errors = found.filter((d) => d.severity === "error").length;
    const warnings = found.length - errors;
    $("diag-count").textContent = `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`;
    const items = found.map((d) => {
      const li = document.createElement("li");
      li.className = d.severity;
      li.dataset.line = d.line;
      li.dataset.column = d.column;
      li.dataset.code = d.code;
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = `${d.file}:${d.line}:${d.column}`;
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = `${d.severity}[${d.code}]`;
      const message = document.createElement("span");
      message.className = "message";
      message.textContent = d.message;
      li.append(where, code, message);
      for (const hint of d.hints || []) {
        const h = document.createElement("div");
        h.className = "hint";
        h.textContent = `help: ${hint}`;
        li.append(h);
      }
      li.addEventListener("click", () => showLine(d.file, d.line));
      return li;
    });
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = "No problems.";
      items.push(li);
    }
    list.replaceChildren(...items);
    renderSources(found);
  }

  function renderSources(found) {
    const byLine = new Map();
    for (const d of found) {
      const k = `${d.file}\u0000${d.line}`;
      if (!byLine.has(k)) byLine.set(k, []);
      byLine.get(k).push(d);
    }
    const sections = files.map((f) => {
      const section = document.createElement("section");
      section.className = "source";
      section.dataset.file = f.name;
      const h = document.createElement("h3");
      h.textContent = f.name;
      const pre = document.createElement("pre");
      f.text.split("\n").forEach((text, i) => {
        const n = i + 1;
        const row = document.createElement("div");
        row.className = "line";
        row.id = lineId(f.name, n);
        const ln = document.createElement("span");
        ln.className = "ln";
        ln.textContent = String(n);
        const code = document.createElement("span");
        code.className = "code";
        const here = byLine.get(`${f.name}\u0000${n}`) || [];
        if (here.length) {
          const first = here[0];
          row.classList.add(here.some((d) => d.severity === "error") ? "error" : "warning");
          const a = Math.max(0, first.column - 1);
          const b = first.end_line === first.line ? Math.max(a + 1, first.end_column - 1) : text.length;
          const mark = document.createElement("mark");
          mark.textContent = text.slice(a, b) || " ";
          code.append(text.slice(0, a), mark, text.slice(b));
        } else {
          code.textContent = text;
        }
        row.append(ln, code);
        pre.append(row);
        for (const d of here) {
          // laid out as a line (an empty number column), so the caret sits under the column
          const note = document.createElement("div");
          note.className = `line inline-diag ${d.severity}`;
          const gutter = document.createElement("span");
          gutter.className = "ln";
          const text = document.createElement("span");
          text.textContent = `${" ".repeat(Math.max(0, d.column - 1))}^ ${d.code}: ${d.message}`;
          note.append(gutter, text);
          pre.append(note);
        }
      });
      section.append(h, pre);
      return section;
    });
    $("sources").replaceChildren(...sections);
  }

  function applyCheck(c) {
    files = c.files || [];
    checkDiagnostics = c.diagnostics || [];
    buildDiagnostics = [];
    $("film").textContent = c.script || "";
    document.body.dataset.check = String(c.check);
    document.body.dataset.errors = String(c.errors);
    renderDiagnostics();
  }

  // ---------------------------------------------------------------- progress

  function applyProgress(p) {
    document.body.dataset.stage = p.stage;
    $("stage").textContent = STAGES[p.stage] || p.stage;
    $("progress-text").textContent = p.message || "";
    const bar = $("progress");
    if (p.total > 0) bar.value = p.done / p.total;
    else if (p.stage === "done") bar.value = 1;
    else if (p.stage === "planning") bar.removeAttribute("value");  // indeterminate
    else bar.value = 0;  // nothing runs
    if (p.stage !== "planning" && p.stage !== "jobs" && p.stage !== "render") $("queued").hidden = true;
    if (p.stage === "failed" || p.stage === "done") {
      buildDiagnostics = p.diagnostics || [];
      renderDiagnostics();
    }
  }

  // ---------------------------------------------------------------- preview and timeline

  function applyPreview(p) {
    if (p.url === previewUrl) return;
    const first = previewUrl === null;
    const keep = first ? 0 : video.currentTime;
    const playing = !first && !video.paused && !video.ended;
    previewUrl = p.url;
    $("no-preview").hidden = true;
    video.addEventListener("loadedmetadata", () => {
      const ready = () => {
        document.body.dataset.preview = p.url;
        document.body.dataset.build = String(p.build);
      };
      if (keep > 0) {
        video.addEventListener("seeked", ready, { once: true });
        video.currentTime = Math.min(keep, Math.max(0, video.duration - 0.001));
      } else {
        ready();
      }
      if (playing) video.play().catch(() => {});
    }, { once: true });
    video.src = p.url;
    loadTimeline(p);
  }

  function clean(node) {
    // no scripts, foreign HTML, event handlers or javascript: links from a picture
    for (const bad of node.querySelectorAll("script, foreignObject, iframe")) bad.remove();
    for (const el of [node, ...node.querySelectorAll("*")]) {
      for (const attr of [...el.attributes]) {
        const name = attr.name.toLowerCase();
        if (name.startsWith("on")) el.removeAttribute(attr.name);
        else if ((name === "href" || name === "xlink:href") && !attr.value.startsWith("#")) el.removeAttribute(attr.name);
      }
    }
  }

  function loadTimeline(p) {
    const note = $("timeline-note");
    if (!p.timeline_url || p.timeline_error) {
      note.hidden = false;
      note.textContent = `No timeline picture: ${p.timeline_error || "none was made"}`;
      return;
    }
    const width = Math.round((timelineBox.clientWidth || 1600) / 100) * 100;
    fetch(`${p.timeline_url}&width=${width}`).then((r) => {
      if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
      return r.text();
    }).then((text) => {
      const doc = new DOMParser().parseFromString(text, "image/svg+xml");
      const root = doc.documentElement;
      if (root.localName !== "svg" || root.querySelector("parsererror")) throw new Error("not an SVG picture");
      clean(root);
      const svg = document.importNode(root, true);
      if (!svg.getAttribute("viewBox")) {
        const w = parseFloat(svg.getAttribute("width")), h = parseFloat(svg.getAttribute("height"));
        if (w > 0 && h > 0) svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
      }
      axis = {
        left: parseFloat(svg.getAttribute("data-left")) || 0,
        pxPerSecond: parseFloat(svg.getAttribute("data-px-per-second")) || 0,
        duration: parseFloat(svg.getAttribute("data-duration")) || 0,
      };
      const box = svg.viewBox.baseVal;
      playhead = document.createElementNS(SVG_NS, "line");
      playhead.setAttribute("class", "playhead");
      playhead.setAttribute("y1", String(box && box.height ? box.y : 0));
      playhead.setAttribute("y2", String(box && box.height ? box.y + box.height : svg.getAttribute("height") || 0));
      svg.append(playhead);
      timelineBox.replaceChildren(svg);
      note.hidden = true;
      timelineBox.dataset.build = String(p.build);
      movePlayhead();
    }).catch((err) => {
      note.hidden = false;
      note.textContent = `The timeline picture could not be shown: ${err.message}`;
    });
  }

  function movePlayhead() {
    if (!playhead || !axis) return;
    const x = axis.left + video.currentTime * axis.pxPerSecond;
    playhead.setAttribute("x1", String(x));
    playhead.setAttribute("x2", String(x));
  }

  function tick() {
    movePlayhead();
    if (!video.paused && !video.ended) requestAnimationFrame(tick);
  }

  timelineBox.addEventListener("click", (ev) => {
    const block = ev.target.closest(".block, .band");  // a band: blocks too narrow to draw alone
    if (!block || !timelineBox.contains(block)) return;
    const start = parseFloat(block.getAttribute("data-start"));
    if (!Number.isFinite(start)) return;
    for (const el of timelineBox.querySelectorAll(".selected")) el.classList.remove("selected");
    block.classList.add("selected");
    video.currentTime = start;
    movePlayhead();
  });

  video.addEventListener("timeupdate", movePlayhead);
  video.addEventListener("seeked", movePlayhead);
  video.addEventListener("play", () => requestAnimationFrame(tick));

  // ---------------------------------------------------------------- events

  const events = new EventSource("/events");
  const on = (kind, apply) => events.addEventListener(kind, (e) => apply(JSON.parse(e.data)));
  on("check", applyCheck);
  on("progress", applyProgress);
  on("preview", applyPreview);
  on("queued", () => { $("queued").hidden = false; });
  events.addEventListener("open", () => { document.body.dataset.connected = "yes"; });
  events.addEventListener("error", () => {
    document.body.dataset.connected = "no";
    $("stage").textContent = "Disconnected";
    $("progress-text").textContent = "the studio is not running (start it again: nyeshc studio FILM)";
  });
})();
