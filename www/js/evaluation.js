// "Evaluate all": a whole CIFAR-10 batch run to T_max across Web Workers (eval-worker.js), one
// engine per worker, chunks handed out as workers free up; one more worker collects the runs and
// writes the report of `dynconf eval --split NAME --json` (and, without a calibration, the file
// `dynconf calibrate --split NAME` writes). The main thread only slices records and routes
// messages, so the page stays responsive.

// Images per message: about 16 × 32 steps × 0.5 ms = 0.25 s of work, so progress moves several
// times a second and the last chunks finish close together.
const CHUNK_IMAGES = 16;

let compiled = null;

/** The engine's JS glue URL and its compiled wasm module (compiled once, shared by all workers). */
function engineSource() {
  if (!compiled) {
    const glue = document.querySelector('link[rel="modulepreload"][href*="dynconf"]');
    const wasm = document.querySelector('link[rel="preload"][href$=".wasm"]');
    if (!glue || !wasm) {
      return Promise.reject(new Error('cannot start the evaluation workers: the page does not name its engine files (build it with trunk)'));
    }
    compiled = WebAssembly.compileStreaming(fetch(wasm.href)).then((module) => ({ glueUrl: glue.href, module }));
    compiled.catch(() => { compiled = null; });
  }
  return compiled;
}

function abortError() {
  return new DOMException('the evaluation was cancelled', 'AbortError');
}

export class BatchEvaluation {
  /**
   * @param {object} o
   * @param {Uint8Array} o.modelBytes the dynconf-snn model file
   * @param {Uint8Array|null} o.calibrationBytes its calibration file, or null to make one on this batch
   * @param {Uint8Array} o.batchBytes the whole batch file (checked with checkBatch)
   * @param {number} o.recordBytes bytes per record (the engine's cifarRecordBytes())
   * @param {string} o.split the CLI's --split NAME: the file name less `.bin`
   * @param {string} [o.fileName] the batch file's name (default `${split}.bin`)
   * @param {number} o.maxSteps T_max: the running simulation's (its max_steps, the
   *   calibration's T_max), as `dynconf eval --max-steps T_max` runs them
   * @param {number} [o.workers] runner workers (navigator.hardwareConcurrency)
   * @param {(p: {phase: string, done: number, total: number, imagesPerSecond: number, etaSeconds: number|null}) => void} [o.onProgress]
   */
  constructor({ modelBytes, calibrationBytes = null, batchBytes, recordBytes, split, fileName, maxSteps, workers, onProgress = () => {} }) {
    if (!(recordBytes >= 1)) throw new Error('the evaluation needs the record size (cifarRecordBytes())');
    if (!(Number.isInteger(maxSteps) && maxSteps >= 1)) throw new Error(`the evaluation needs T_max (a whole number ≥ 1), not ${maxSteps}`);
    this.modelBytes = modelBytes;
    this.calibrationBytes = calibrationBytes;
    this.batchBytes = batchBytes;
    this.split = split;
    this.fileName = fileName || `${split}.bin`;
    this.maxSteps = maxSteps;
    this.recordBytes = recordBytes;
    this.total = Math.floor(batchBytes.length / recordBytes);
    this.runnerCount = Math.max(1, Math.min(workers || navigator.hardwareConcurrency || 2, Math.ceil(this.total / CHUNK_IMAGES)));
    this.onProgress = onProgress;
    this.workers = [];
    this.cancelled = false;
    this.fail = null;
  }

  /** Workers still running (0 once run() has settled or after cancel()). */
  get liveWorkers() {
    return this.workers.length;
  }

  /** Stops every worker at once; run() then rejects with an AbortError. */
  cancel() {
    this.cancelled = true;
    this.terminate();
    if (this.fail) this.fail(abortError());
  }

  terminate() {
    for (const worker of this.workers) worker.terminate();
    this.workers = [];
  }

  spawn(role, engine) {
    const worker = new Worker(new URL('./eval-worker.js', import.meta.url), { type: 'module', name: `dynconf ${role}` });
    this.workers.push(worker);
    worker.onerror = (event) => this.fail(new Error(`an evaluation worker failed: ${event.message || 'could not start'}`));
    worker.postMessage({
      type: 'init', role, ...engine, modelBytes: this.modelBytes, maxSteps: this.maxSteps, images: this.total,
    });
    return worker;
  }

  /** Resolves to {result, evalJson, calibrationJson, seconds}; see docs/demo.md. */
  async run() {
    if (this.total === 0) throw new Error(`${this.fileName}: the batch is empty`);
    const engine = await engineSource();
    if (this.cancelled) throw abortError();
    return new Promise((resolve, reject) => {
      this.fail = (error) => { this.terminate(); this.fail = () => {}; reject(error); };
      const summary = this.spawn('summary', engine);
      const chunks = Math.ceil(this.total / CHUNK_IMAGES);
      let next = 0;
      let done = 0;
      let started = null;
      let runningSeconds = 0;
      const progress = (phase) => {
        const seconds = started === null ? 0 : (performance.now() - started) / 1000;
        const imagesPerSecond = seconds > 0 ? done / seconds : 0;
        this.onProgress({
          phase, done, total: this.total, imagesPerSecond,
          etaSeconds: imagesPerSecond > 0 ? (this.total - done) / imagesPerSecond : null, // null: not known yet
        });
      };
      const dispatch = (worker) => {
        if (next >= chunks) return;
        const first = next * CHUNK_IMAGES;
        const end = Math.min(this.total, first + CHUNK_IMAGES);
        next += 1;
        const records = this.batchBytes.slice(first * this.recordBytes, end * this.recordBytes);
        worker.postMessage({ type: 'run', first, records }, [records.buffer]);
      };
      const runners = [];
      for (let i = 0; i < this.runnerCount; i += 1) {
        const runner = this.spawn('runner', engine);
        runners.push(runner);
        runner.onmessage = ({ data }) => {
          if (data.type === 'error') { this.fail(new Error(data.message)); return; }
          if (data.type === 'ready') {
            if (started === null) { started = performance.now(); progress('running'); }
            dispatch(runner);
            dispatch(runner); // one chunk queued behind the running one: no idle gap between chunks
            return;
          }
          // 'ran': hand the runs to the summary, give this runner more work.
          summary.postMessage({ type: 'add', first: data.first, runs: data.runs }, [data.runs.buffer]);
          done += data.count;
          dispatch(runner);
          if (done < this.total) { progress('running'); return; }
          runningSeconds = (performance.now() - started) / 1000;
          for (const r of runners) r.terminate();
          this.workers = [summary];
          progress('summarizing');
          const calibration = this.calibrationBytes ? this.calibrationBytes.slice() : null;
          summary.postMessage({ type: 'finish', split: this.split, fileName: this.fileName, calibration, seconds: runningSeconds });
        };
      }
      summary.onmessage = ({ data }) => {
        if (data.type === 'error') { this.fail(new Error(data.message)); return; }
        if (data.type !== 'done') return;
        this.terminate();
        this.fail = () => {};
        resolve({ result: JSON.parse(data.evalJson), evalJson: data.evalJson, calibrationJson: data.calibrationJson, seconds: runningSeconds });
      };
    });
  }
}
