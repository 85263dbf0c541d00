// The page's entry: opens one or two runs (URLs from ?run=&compare=, or local files
// from the picker), builds a RunView per run sharing one Model (the cursor is the first
// run's round; the second run shows the round at the same simulated time), paints on
// every change, and shows the hovered job's story.
import { DataSource } from "./datasource.js";
import { Model } from "./model.js";
import { RunView } from "./view.js";
import { Controller, SHORTCUTS } from "./controller.js";
import { JOB_FINISHED, JOB_IN_WINDOW, JOB_UNRUNNABLE } from "./decoder.js";

const $ = (id) => document.getElementById(id);
const stats = { firstFrameMs: null, frames: 0, paintsWaiting: 0, startedAt: performance.now() };
globalThis.__viz = stats;

function status(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

for (const [key, what] of SHORTCUTS) {
  const li = document.createElement("li");
  li.innerHTML = `<kbd></kbd> `;
  li.firstChild.textContent = key;
  li.appendChild(document.createTextNode(what));
  $("shortcuts").appendChild(li);
}

async function openSources(sources) {
  status("loading…");
  stats.startedAt = performance.now();
  stats.firstFrameMs = null;
  const opened = await Promise.all(sources.map((s) => s.open()));
  $("runs").replaceChildren();
  start(opened);
}

function fmtH(seconds) {
  return seconds === null || seconds === undefined ? "—" : `${(seconds / 3600).toFixed(2)} h`;
}

function story(views, sel) {
  const box = $("job");
  if (!sel || sel.job === null || sel.job === undefined) {
    box.textContent = "Hover or click a GPU to see its job.";
    return;
  }
  const view = views[sel.run];
  const src = view.source;
  const type = src.types.find((t) => sel.gpu >= t.firstGpu && sel.gpu < t.firstGpu + t.count);
  const lines = [`GPU ${sel.gpu} (${type ? type.name : "?"}): job ${sel.job}`];
  for (const v of views) {
    const j = v.source.job(sel.job);
    if (!j) continue;
    const where = v.source.types.map((t, i) => `${t.name} ${j.roundsRun[i]}`).join(", ");
    const jct = j.finishS === null ? "unfinished" : `JCT ${fmtH(j.finishS - j.arrivalS)}`;
    const flags = [j.flags & JOB_IN_WINDOW ? "in window" : "", j.flags & JOB_UNRUNNABLE ? "unrunnable" : "", j.flags & JOB_FINISHED ? "" : "not finished"].filter(Boolean);
    lines.push(
      `${views.length > 1 ? `[${v.source.label}] ` : ""}${v.source.models[j.model] ?? "?"} on ${j.gpus} GPU${j.gpus > 1 ? "s" : ""}; ` +
        `arrived ${fmtH(j.arrivalS)}, finished ${fmtH(j.finishS)}, ${jct}; rounds run: ${where}${flags.length ? ` (${flags.join(", ")})` : ""}`,
    );
  }
  box.textContent = lines.join("\n");
}

function start(sources) {
  const container = $("runs");
  container.classList.toggle("compare", sources.length > 1);
  const hoursMax = Math.max(1e-9, ...sources.map((s) => (s.numRounds ? s.timeOf(s.numRounds - 1) / 3600 : 0)));
  const views = sources.map((s, i) => new RunView(s, container, i, hoursMax));
  globalThis.__vizViews = views;
  const primary = sources[0];
  const model = new Model(primary.numRounds);
  const roundFor = (v, k) => (v.index === 0 ? k : v.source.roundAt(primary.timeOf(k)));
  const selectedJob = () => (model.selection ? model.selection.job ?? null : null);

  const ensure = (k) => {
    let ready = true;
    for (const v of views) {
      const src = v.source;
      if (src.numRounds === 0) continue;
      const r = roundFor(v, k);
      if (!src.cached(r)) {
        ready = false;
        src.block(src.blockOf(r)).catch(() => {});
      }
    }
    return ready;
  };

  const paint = () => {
    const k = model.round;
    let all = true;
    for (const v of views) {
      const src = v.source;
      const r = roundFor(v, k);
      const b = src.blockOf(r);
      src.keepOnly([b, b + 1]);
      if (!v.paint(r, selectedJob())) {
        all = false;
        src.block(b).then(() => { if (model.round === k) paint(); }, (e) => { if (e.name !== "AbortError") status(e.message, true); });
      } else if (model.playing && b + 1 <= src.blockOf(src.numRounds - 1)) {
        src.block(b + 1).catch(() => {});
      }
    }
    if (all) {
      stats.frames++;
      if (stats.firstFrameMs === null) {
        stats.firstFrameMs = performance.now() - stats.startedAt;
        status(`ready (first frame in ${stats.firstFrameMs.toFixed(0)} ms)`);
      }
      $("round").textContent = `round ${k + 1} / ${model.numRounds}`;
      document.body.dataset.round = String(k);
    } else stats.paintsWaiting++;
  };

  const ui = {
    play: $("play"), back: $("back"), fwd: $("fwd"), speed: $("speed"), slider: $("slider"),
    seekForm: $("seekform"), seekBox: $("seekbox"),
  };
  if (globalThis.__vizController) globalThis.__vizController.detach();
  const controller = new Controller(model, views, ui, ensure);
  globalThis.__vizController = controller;
  model.subscribe((what) => {
    if (what === "round") paint();
    if (what === "selection") {
      story(views, model.selection);
      paint();
    }
  });
  globalThis.__vizModel = model;
  story(views, null);
  paint();
}

$("file").addEventListener("change", async (e) => {
  const files = Array.from(e.target.files).slice(0, 2);
  if (!files.length) return;
  try {
    const sources = await Promise.all(files.map(async (f) => new DataSource(await f.arrayBuffer(), f.name)));
    await openSources(sources);
  } catch (err) {
    status(`${files.map((f) => f.name).join(", ")}: ${err.message}`, true);
  }
});

const params = new URLSearchParams(location.search);
const urls = [params.get("run"), params.get("compare")].filter(Boolean);
if (urls.length) {
  openSources(urls.map((u, i) => new DataSource(u, params.get(i ? "label2" : "label1") || u.split("/").slice(-2, -1)[0] || u))).catch((err) => status(err.message, true));
} else {
  status("Open a .viz.bin file (or two, to compare) with the picker above.");
}
