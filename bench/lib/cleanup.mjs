// What a benchmark must undo (child processes, a database, Redis keys, temporary files), undone once, in the
// reverse order of registration: at the end, after an error, on Ctrl-C or SIGTERM, or when the time limit
// passes.

/**
 * Starts the time limit (`timeLimit` seconds) and the signal handlers; returns `add(task)` (a function,
 * may be async; `add` returns a function that removes it again, for tasks done on the normal path) and `run()`
 * (runs what is left and stops the time limit). On a signal or at the time limit the tasks run and the
 * process exits (130 for SIGINT, 143 for SIGTERM, 1 for the time limit). A failing task is logged, the
 * others still run.
 */
export function cleanupOnExit({ timeLimit }) {
  const tasks = [];
  let running;
  const runAll = () =>
    (running ??= (async () => {
      while (tasks.length > 0) {
        const task = tasks.pop();
        await Promise.resolve()
          .then(task)
          .catch((error) => console.error(`cleanup: ${error?.message ?? error}`));
      }
    })());
  const stop = (reason, code) => {
    console.error(`${reason}; cleaning up`);
    void runAll().finally(() => process.exit(code));
  };
  const deadline = setTimeout(() => stop(`time limit of ${timeLimit} s reached`, 1), timeLimit * 1_000);
  deadline.unref();
  process.once('SIGINT', () => stop('interrupted', 130));
  process.once('SIGTERM', () => stop('terminated', 143));
  return {
    add(task) {
      tasks.push(task);
      return () => {
        const at = tasks.indexOf(task);
        if (at !== -1) tasks.splice(at, 1);
      };
    },
    async run() {
      clearTimeout(deadline);
      await runAll();
    },
  };
}
