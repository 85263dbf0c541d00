// Renderer: a canvas grid with one cell per GPU, grouped by type and server, coloured
// by job; repaints only the cells that changed since the last frame.
import { IDLE } from "./decoder.js";

const CELL = 12;
const MIN_CELL = 8;
const GAP = 2;
const SERVER_GAP = 6;
const LABEL_W = 44;
const BAND_GAP = 10;
const MAX_W = 560;
export const IDLE_COLOUR = "#2a2f3a";

export function jobColour(id) {
  const h = (Math.imul(id, 2654435761) >>> 0) % 360;
  const l = 45 + ((id * 7) % 3) * 8;
  return `hsl(${h}, 65%, ${l}%)`;
}

// The cell size: the largest from CELL down to MIN_CELL at which every type's servers
// fit on one line (36 GPUs in servers of 4 take 11 px), else CELL with servers wrapped
// onto further lines (a server is never split).
export function cellSize(types) {
  for (let cell = CELL; cell >= MIN_CELL; cell--) {
    const fits = types.every((t) => {
      const per = Math.max(1, t.gpusPerServer);
      const servers = Math.ceil(t.count / per);
      const gaps = per > 1 ? Math.max(0, servers - 1) * SERVER_GAP : 0;
      return LABEL_W + t.count * (cell + GAP) + gaps <= MAX_W;
    });
    if (fits) return cell;
  }
  return CELL;
}

export class GridRenderer {
  constructor(canvas, types) {
    this.canvas = canvas;
    this.types = types;
    this.layout(types);
    this.prev = null;
    this.prevSelected = null;
    this.paints = 0;
    this.cellsPainted = 0;
  }

  layout(types) {
    const cell = cellSize(types);
    this.cell = cell;
    const pos = [];
    let y = 4;
    this.bands = [];
    for (const t of types) {
      let x = LABEL_W;
      let rowTop = y;
      const per = Math.max(1, t.gpusPerServer);
      for (let s = 0; s < t.count; s += per) {
        const n = Math.min(per, t.count - s);
        const w = n * (cell + GAP);
        if (x + w > MAX_W && x > LABEL_W) {
          x = LABEL_W;
          rowTop += cell + GAP + 4;
        }
        for (let i = 0; i < n; i++) pos.push([x + i * (cell + GAP), rowTop]);
        x += w + (per > 1 ? SERVER_GAP : 0);
      }
      this.bands.push({ name: t.name, y, h: rowTop + cell - y });
      y = rowTop + cell + BAND_GAP;
    }
    this.pos = pos;
    const dpr = globalThis.devicePixelRatio || 1;
    this.canvas.width = MAX_W * dpr;
    this.canvas.height = y * dpr;
    this.canvas.style.width = `${MAX_W}px`;
    this.canvas.style.height = `${y}px`;
    this.ctx = this.canvas.getContext("2d");
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.ctx.fillStyle = "#11151c";
    this.ctx.fillRect(0, 0, MAX_W, y);
    this.ctx.fillStyle = "#c9d1d9";
    this.ctx.font = "12px sans-serif";
    for (const b of this.bands) this.ctx.fillText(b.name.toUpperCase(), 4, b.y + 11);
  }

  // cells: Uint32Array of the job on each GPU; selected: a job id to outline, or null.
  paint(cells, selected) {
    const ctx = this.ctx;
    const prev = this.prev;
    let painted = 0;
    const selChanged = selected !== this.prevSelected;
    for (let g = 0; g < cells.length; g++) {
      const job = cells[g];
      const was = prev ? prev[g] : -1;
      const hl = job !== IDLE && job === selected;
      const wasHl = prev && was !== IDLE && was === this.prevSelected;
      if (prev && job === was && !(selChanged && (hl || wasHl))) continue;
      const [x, y] = this.pos[g];
      const cell = this.cell;
      ctx.fillStyle = job === IDLE ? IDLE_COLOUR : jobColour(job);
      ctx.fillRect(x, y, cell, cell);
      ctx.strokeStyle = hl ? "#ffffff" : "#11151c";
      ctx.lineWidth = 2;
      ctx.strokeRect(x + 1, y + 1, cell - 2, cell - 2);
      painted++;
    }
    this.prev = Uint32Array.from(cells);
    this.prevSelected = selected;
    this.paints++;
    this.cellsPainted += painted;
    return painted;
  }

  // The GPU under canvas coordinates (CSS pixels), or -1.
  gpuAt(x, y) {
    const cell = this.cell;
    for (let g = 0; g < this.pos.length; g++) {
      const [px, py] = this.pos[g];
      if (x >= px && x < px + cell && y >= py && y < py + cell) return g;
    }
    return -1;
  }

  cellCentre(g) {
    const [x, y] = this.pos[g];
    return [x + this.cell / 2, y + this.cell / 2];
  }
}
