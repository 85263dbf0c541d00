// Time series from the telemetry, hand-drawn on canvas: each chart's lines and phase
// shading are drawn once into an offscreen canvas; a frame only copies it and draws
// the cursor at the current round.

const PHASE_COLOURS = ["rgba(120,120,160,0.18)", "rgba(0,0,0,0)", "rgba(80,160,255,0.12)", "rgba(255,80,80,0.20)"];
const W = 560;
const H = 100;
const PAD_L = 40;
const PAD_B = 16;

export class Chart {
  // lines: [{ label, values (per round), colour }]; x: hours per round.
  constructor(canvas, title, x, lines, phases, { yMax, xMax } = {}) {
    this.canvas = canvas;
    this.x = x;
    const dpr = globalThis.devicePixelRatio || 1;
    canvas.width = W * dpr;
    canvas.height = H * dpr;
    canvas.style.width = `${W}px`;
    canvas.style.height = `${H}px`;
    this.ctx = canvas.getContext("2d");
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.base = document.createElement("canvas");
    this.base.width = W * dpr;
    this.base.height = H * dpr;
    const b = this.base.getContext("2d");
    b.setTransform(dpr, 0, 0, dpr, 0, 0);
    const n = x.length;
    this.xMax = xMax || (n ? x[n - 1] || 1 : 1);
    let top = yMax ?? 0;
    if (yMax === undefined) for (const l of lines) for (const v of l.values) if (v > top) top = v;
    this.yMax = top > 0 ? top : 1;
    b.fillStyle = "#0d1117";
    b.fillRect(0, 0, W, H);
    if (phases) {
      let start = 0;
      for (let k = 1; k <= n; k++) {
        if (k === n || phases[k] !== phases[start]) {
          b.fillStyle = PHASE_COLOURS[phases[start]] || "rgba(0,0,0,0)";
          const x0 = this.px(x[start]);
          b.fillRect(x0, 0, this.px(x[k - 1]) - x0 + 1, H - PAD_B);
          start = k;
        }
      }
    }
    b.strokeStyle = "#30363d";
    b.strokeRect(PAD_L, 0, W - PAD_L - 1, H - PAD_B);
    b.fillStyle = "#8b949e";
    b.font = "10px sans-serif";
    b.fillText(fmt(this.yMax), 2, 10);
    b.fillText("0", 2, H - PAD_B);
    b.fillText("0 h", PAD_L, H - 4);
    b.fillText(`${fmt(this.xMax)} h`, W - 40, H - 4);
    b.fillText(title, PAD_L + 4, 11);
    let legendX = PAD_L + 16 + b.measureText(title).width;
    lines.forEach((l) => {
      b.strokeStyle = l.colour;
      b.lineWidth = 1.2;
      b.beginPath();
      let pen = false;
      for (const [px, v] of columnMeans(l.values, x, (h) => this.px(h))) {
        if (Number.isNaN(v)) {
          pen = false;
          continue;
        }
        const py = this.py(v);
        if (pen) b.lineTo(px, py);
        else b.moveTo(px, py);
        pen = true;
      }
      b.stroke();
      b.fillStyle = l.colour;
      b.fillRect(legendX, 5, 8, 3);
      b.fillText(l.label, legendX + 11, 11);
      legendX += 22 + b.measureText(l.label).width;
    });
    this.draw(0);
  }

  px(hours) {
    return PAD_L + (hours / this.xMax) * (W - PAD_L - 2);
  }

  py(v) {
    return 14 + (H - PAD_B - 14) * (1 - Math.min(v, this.yMax) / this.yMax); // below the title
  }

  draw(k) {
    const c = this.ctx;
    c.drawImage(this.base, 0, 0, W, H);
    if (!this.x.length) return;
    const px = this.px(this.x[Math.min(k, this.x.length - 1)]);
    c.strokeStyle = "#f0f6fc";
    c.lineWidth = 1;
    c.beginPath();
    c.moveTo(px, 0);
    c.lineTo(px, H - PAD_B);
    c.stroke();
  }
}

// JCT of finished jobs against their completion time (hours), window jobs highlighted.
export class JctChart extends Chart {
  constructor(canvas, jobs, hoursMax) {
    const finished = jobs.filter((j) => j.finishS !== null);
    super(canvas, "JCT (h) vs completion (h)", [0, hoursMax], [], null, {
      xMax: hoursMax,
      yMax: Math.max(1, ...finished.map((j) => (j.finishS - j.arrivalS) / 3600)),
    });
    const b = this.base.getContext("2d");
    for (const j of finished) {
      b.fillStyle = j.flags & 4 ? "rgba(255,200,80,0.8)" : "rgba(120,180,255,0.5)";
      b.fillRect(this.px(j.finishS / 3600) - 1.5, this.py((j.finishS - j.arrivalS) / 3600) - 1.5, 3, 3);
    }
    this.cursorHours = 0;
    this.draw(0);
  }

  drawHours(hours) {
    const c = this.ctx;
    c.drawImage(this.base, 0, 0, W, H);
    const px = this.px(hours);
    c.strokeStyle = "#f0f6fc";
    c.beginPath();
    c.moveTo(px, 0);
    c.lineTo(px, H - PAD_B);
    c.stroke();
  }
}

// One point per pixel column: the mean of the rounds that fall in it (NaN when they
// all are), so a series that flips every round (an agnostic policy's utilisation
// per type) draws as its level, not as the aliasing of every n-th round.
export function columnMeans(values, x, toPx) {
  const points = [];
  let column = null;
  let sum = 0;
  let count = 0;
  const flush = () => {
    if (column !== null) points.push([column + 0.5, count ? sum / count : NaN]);
  };
  for (let k = 0; k < values.length; k++) {
    const c = Math.floor(toPx(x[k]));
    if (c !== column) {
      flush();
      column = c;
      sum = 0;
      count = 0;
    }
    const v = values[k];
    if (!Number.isNaN(v)) {
      sum += v;
      count += 1;
    }
  }
  flush();
  return points;
}

function fmt(v) {
  if (Number.isInteger(v)) return String(v);
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
