// One Web Worker of an evaluation (evaluation.js): a module worker with its own instance of the
// engine. As a runner it runs chunks of records to T_max (wasm Evaluator) and returns their runs
// as bytes; as the summary it collects every chunk (wasm EvaluationSummary) and writes the JSON
// of `dynconf eval --json` and, when asked, of `dynconf calibrate`. Nothing here computes.
//
// Messages in:  {type: 'init', role: 'runner'|'summary', glueUrl, module, modelBytes, maxSteps, images}
//               {type: 'run', first, records}             (runner)
//               {type: 'add', first, runs}                (summary)
//               {type: 'finish', split, fileName, calibration, seconds}   (summary)
// Messages out: {type: 'ready'} · {type: 'ran', first, count, runs} · {type: 'done', evalJson, calibrationJson}
//               {type: 'error', message}

let engine = null;
let recordBytes = 0; // bytes per CIFAR-10 record, from the engine

async function init({ role, glueUrl, module, modelBytes, maxSteps, images }) {
  const glue = await import(glueUrl);
  await glue.default({ module_or_path: module });
  recordBytes = glue.cifarRecordBytes();
  engine = role === 'runner'
    ? new glue.Evaluator(modelBytes, maxSteps, true)
    : new glue.EvaluationSummary(modelBytes, images);
}

function handle(message) {
  switch (message.type) {
    case 'run': {
      const runs = engine.run(message.records);
      postMessage({ type: 'ran', first: message.first, count: message.records.length / recordBytes, runs }, [runs.buffer]);
      break;
    }
    case 'add':
      engine.add(message.first, message.runs);
      break;
    case 'finish': {
      // No calibration: make one on this batch first, as `dynconf calibrate` would, and use it.
      const calibrationJson = message.calibration ? null : engine.calibrate(message.split, message.fileName);
      const calibration = message.calibration || new TextEncoder().encode(calibrationJson);
      const evalJson = engine.report(message.split, message.fileName, calibration, message.seconds);
      postMessage({ type: 'done', evalJson, calibrationJson });
      break;
    }
    default:
      throw new Error(`unknown message ${message.type}`);
  }
}

let ready = null;
self.onmessage = async (event) => {
  try {
    if (event.data.type === 'init') {
      ready = init(event.data);
      await ready;
      postMessage({ type: 'ready' });
      return;
    }
    await ready; // messages sent before the engine started wait for it, in order
    handle(event.data);
  } catch (error) {
    postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
};
