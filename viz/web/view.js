// RunView: one run's panel (its grid, its charts, its caption), painted for a round.
import { IDLE, PHASES } from "./decoder.js";
import { GridRenderer } from "./renderer.js";
import { Chart, JctChart } from "./charts.js";

const TYPE_COLOURS = ["#3fb950", "#58a6ff", "#d29922", "#f778ba", "#a371f7"];

function el(tag, attrs = {}, parent) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  if (parent) parent.appendChild(e);
  return e;
}

export class RunView {
  // hoursMax: the time axis's end, shared by the runs of a comparison
  constructor(source, container, index, hoursMax) {
    this.source = source;
    this.index = index;
    const root = el("section", { class: "run", "data-run": String(index) }, container);
    const cfg = source.meta.config || {};
    const jct = source.meta.avg_jct_h;
    el("h2", { text: `${source.label}: ${cfg.policy ?? "?"}` }, root);
    el(
      "p",
      {
        class: "runinfo",
        text: `seed ${cfg.seed ?? "?"}, ${source.types.map((t) => `${t.count} ${t.name}`).join(" + ")}, ` +
          `${source.numRounds.toLocaleString("en")} rounds, ${source.jobs.length.toLocaleString("en")} jobs, ` +
          `avg JCT ${jct == null ? "n/a" : jct.toFixed(2) + " h"}, ended ${source.meta.end_reason ?? "?"}`,
      },
      root,
    );
    this.caption = el("p", { class: "caption", "data-testid": `caption-${index}` }, root);
    this.canvas = el("canvas", { class: "grid", "data-testid": `grid-${index}` }, root);
    this.grid = new GridRenderer(this.canvas, source.types);
    const charts = el("div", { class: "charts" }, root);
    const s = source.series;
    const n = source.numRounds;
    const hours = new Float64Array(n);
    for (let k = 0; k < n; k++) hours[k] = source.timeOf(k) / 3600;
    this.hours = hours;
    const phases = s.phase ? Uint8Array.from(s.phase) : null;
    const mk = (title, lines, opts) => new Chart(el("canvas", {}, charts), title, hours, lines, phases, { xMax: hoursMax, ...opts });
    this.charts = [];
    const util = source.types.filter((t) => s[`util_${t.name}`]).map((t, i) => ({ label: t.name, values: s[`util_${t.name}`], colour: TYPE_COLOURS[i % 5] }));
    if (util.length) this.charts.push(mk("utilisation", util, { yMax: 1 }));
    const jobs = [];
    if (s.waiting_jobs) jobs.push({ label: "waiting", values: s.waiting_jobs, colour: "#f85149" });
    if (s.active_jobs) jobs.push({ label: "active", values: s.active_jobs, colour: "#e3b341" });
    if (jobs.length) this.charts.push(mk("jobs", jobs));
    if (s.completion_rate_per_h) this.charts.push(mk("completions/h", [{ label: "rate", values: s.completion_rate_per_h, colour: "#56d4dd" }]));
    const frag = source.types.filter((t) => s[`fragmented_${t.name}`]).map((t, i) => ({ label: t.name, values: s[`fragmented_${t.name}`], colour: TYPE_COLOURS[i % 5] }));
    if (frag.some((f) => f.values.some((v) => v > 0))) this.charts.push(mk("fragmented GPUs", frag));
    this.jct = new JctChart(el("canvas", {}, charts), source.jobs, hoursMax);
    this.shown = -1;
  }

  // Paints round k if its block is decoded; returns false when it must be fetched first.
  paint(k, selectedJob) {
    const src = this.source;
    if (src.numRounds === 0) {
      this.caption.textContent = "no rounds";
      return true;
    }
    const block = src.cached(k);
    if (!block) return false;
    const i = k - src.blockOf(k) * 128;
    const g = src.header.numGpus;
    const cells = block.gpus.subarray(i * g, (i + 1) * g);
    this.grid.paint(cells, selectedJob);
    this.cells = cells;
    const m = src.types.length;
    const busy = Array.from(block.busy.subarray(i * m, (i + 1) * m));
    const waiting = src.queueIndex ? src.queue(k).length : 0;
    this.caption.textContent =
      `round ${block.round[i]} · t = ${(block.time[i] / 3600).toFixed(1)} h · ${PHASES[block.phase[i]]} · ` +
      `busy ${src.types.map((t, j) => `${t.name} ${busy[j]}/${t.count}`).join(", ")} · ` +
      `active ${block.active[i]}, running ${block.running[i]}, waiting ${waiting}, done ${block.completed[i]}` +
      (block.flags[i] & 1 ? " · solved" : "");
    for (const c of this.charts) c.draw(k);
    this.jct.drawHours(block.time[i] / 3600);
    this.shown = k;
    return true;
  }

  jobOnGpu(g) {
    if (!this.cells || g < 0) return null;
    const id = this.cells[g];
    return id === IDLE ? null : id;
  }
}
