// Preloaded into a server under test (`node --import <this file> …`, started with an IPC channel): answers
// `{ type: 'nas-bench-memory', id, gc }` with `process.memoryUsage()` (rss, heapTotal, heapUsed, external,
// arrayBuffers, in bytes), after a full garbage collection when `gc` is true and the process was started with
// `--expose-gc`. It changes nothing else in the process; without an IPC channel it does nothing.
if (typeof process.send === 'function') {
  process.on('message', (message) => {
    if (message?.type !== 'nas-bench-memory') return;
    const collected = message.gc === true && typeof globalThis.gc === 'function';
    if (collected) globalThis.gc();
    process.send({ type: 'nas-bench-memory', id: message.id, collected, ...process.memoryUsage() });
  });
  // The channel must not keep the server alive on its own once the app has closed.
  process.channel?.unref();
}
