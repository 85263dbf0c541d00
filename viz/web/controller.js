// Controller: input and playback. Buttons, keyboard shortcuts, the seek box and the
// slider drive the Model; hovering or clicking a GPU selects its job; a
// requestAnimationFrame loop advances the round while playing.

export const SHORTCUTS = [
  ["Space", "play / pause"],
  ["← / →", "step one round"],
  ["Shift + ← / →", "step 10 rounds"],
  ["+ / −", "faster / slower"],
  ["Home / End", "first / last round"],
  ["g", "go to a round or an hour (e.g. 1200 or 50h)"],
  ["Esc", "clear the selection"],
];

export class Controller {
  // ensure(k): true when every view can paint round k now (else it starts the fetches)
  constructor(model, views, ui, ensure) {
    this.model = model;
    this.views = views;
    this.ui = ui;
    this.ensure = ensure;
    this.last = 0;
    this.carry = 0;
    // every listener goes with detach(), so opening other files does not double them
    this.listening = new AbortController();
    const opts = { signal: this.listening.signal };
    ui.play.addEventListener("click", () => model.setPlaying(!model.playing), opts);
    ui.back.addEventListener("click", () => model.step(-1), opts);
    ui.fwd.addEventListener("click", () => model.step(1), opts);
    ui.speed.addEventListener("change", () => model.setSpeed(Number(ui.speed.value)), opts);
    ui.slider.max = String(Math.max(0, model.numRounds - 1));
    ui.slider.value = "0";
    ui.slider.addEventListener("input", () => model.seek(Number(ui.slider.value)), opts);
    ui.seekForm.addEventListener(
      "submit",
      (e) => {
        e.preventDefault();
        this.seekTo(ui.seekBox.value);
      },
      opts,
    );
    document.addEventListener("keydown", (e) => this.key(e), opts);
    for (const v of views) {
      const pick = (e, sticky) => {
        const r = v.canvas.getBoundingClientRect();
        const g = v.grid.gpuAt(e.clientX - r.left, e.clientY - r.top);
        const job = v.jobOnGpu(g);
        if (sticky || job !== null) model.select(g < 0 ? null : { run: v.index, gpu: g, job });
      };
      v.canvas.addEventListener("mousemove", (e) => pick(e, false), opts);
      v.canvas.addEventListener("click", (e) => pick(e, true), opts);
    }
    model.subscribe((what) => {
      if (what === "playing") {
        ui.play.textContent = model.playing ? "❚❚ pause" : "▶ play";
        if (model.playing) {
          this.last = performance.now();
          requestAnimationFrame((t) => this.tick(t));
        }
      }
      if (what === "round") ui.slider.value = String(model.round);
      if (what === "speed") ui.speed.value = String(model.speed);
    });
  }

  detach() {
    this.model.setPlaying(false);
    this.listening.abort();
  }

  seekTo(text) {
    const t = text.trim().toLowerCase();
    const m = this.model;
    if (t.endsWith("h")) {
      const hours = Number(t.slice(0, -1));
      if (Number.isFinite(hours)) m.seek(this.views[0].source.roundAt(hours * 3600));
    } else if (t !== "" && Number.isFinite(Number(t))) {
      m.seek(Number(t) - 1); // rounds are numbered from 1 in the page, as in the trace
    }
  }

  key(e) {
    if (e.target && (e.target.tagName === "INPUT" || e.target.tagName === "SELECT")) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    const m = this.model;
    const step = e.shiftKey ? 10 : 1;
    const speeds = [1, 3, 10, 30, 100, 300, 1000];
    const at = speeds.indexOf(m.speed);
    switch (e.key) {
      case " ":
        m.setPlaying(!m.playing);
        break;
      case "ArrowLeft":
        m.step(-step);
        break;
      case "ArrowRight":
        m.step(step);
        break;
      case "+":
      case "=":
        m.setSpeed(speeds[Math.min(speeds.length - 1, at + 1)] ?? 30);
        break;
      case "-":
        m.setSpeed(speeds[Math.max(0, at - 1)] ?? 30);
        break;
      case "Home":
        m.seek(0);
        break;
      case "End":
        m.seek(m.numRounds - 1);
        break;
      case "g":
        this.ui.seekBox.focus();
        break;
      case "Escape":
        m.select(null);
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  tick(now) {
    const m = this.model;
    if (!m.playing) return;
    const dt = Math.min(0.25, (now - this.last) / 1000);
    this.last = now;
    this.carry += dt * m.speed;
    const whole = Math.floor(this.carry);
    if (whole > 0) {
      // wait for data rather than skipping past rounds that are not decoded yet
      if (this.ensure(Math.min(m.numRounds - 1, m.round + whole))) {
        this.carry -= whole;
        if (m.round + whole >= m.numRounds - 1) {
          m.seek(m.numRounds - 1);
          m.setPlaying(false);
        } else m.step(whole);
      } else this.carry = Math.min(this.carry, 2 * m.speed);
    }
    requestAnimationFrame((t) => this.tick(t));
  }
}
