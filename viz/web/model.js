// Model: the current round, playback state and selection, with observers. No DOM.

export class Model {
  constructor(numRounds) {
    this.numRounds = numRounds;
    this.round = 0;
    this.playing = false;
    this.speed = 30; // rounds per second
    this.selection = null; // { gpu, run } or { job, run }
    this.observers = [];
  }

  subscribe(fn) {
    this.observers.push(fn);
    return () => {
      this.observers = this.observers.filter((f) => f !== fn);
    };
  }

  notify(what) {
    for (const fn of this.observers) fn(what, this);
  }

  seek(round) {
    const r = Math.max(0, Math.min(this.numRounds - 1, Math.round(round)));
    if (r === this.round || this.numRounds === 0) return;
    this.round = r;
    this.notify("round");
  }

  step(delta) {
    this.seek(this.round + delta);
  }

  setPlaying(on) {
    if (on === this.playing) return;
    this.playing = on;
    if (on && this.round >= this.numRounds - 1) this.seek(0);
    this.notify("playing");
  }

  setSpeed(speed) {
    this.speed = Math.max(1, Math.min(3000, speed));
    this.notify("speed");
  }

  select(selection) {
    this.selection = selection;
    this.notify("selection");
  }
}
