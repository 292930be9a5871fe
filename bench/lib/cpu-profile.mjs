// Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and sums its sampled time by function and by
// origin, for the profiling pass of the HTTP benchmarks.
import { readFileSync } from 'node:fs';

const SPECIAL = new Set(['(program)', '(garbage collector)', '(idle)', '(root)']);

/** Where a frame's code lives: `libs/security`, `bench`, a package of node_modules, `node` or a V8 pseudo-frame. */
export function originOf(callFrame) {
  if (SPECIAL.has(callFrame.functionName)) return callFrame.functionName;
  const url = callFrame.url;
  if (!url || url.startsWith('node:')) return 'node (incl. system calls)';
  const inModules = url.lastIndexOf('/node_modules/');
  if (inModules !== -1) {
    const [first, second] = url.slice(inModules + '/node_modules/'.length).split('/');
    return first.startsWith('@') ? `${first}/${second}` : first;
  }
  if (url.includes('/libs/security/')) return 'libs/security';
  if (url.includes('/bench/')) return 'bench';
  return url;
}

/** `name file:line`, the file relative to node_modules or to libs/. */
function frameKey(callFrame) {
  const name = callFrame.functionName || '(anonymous)';
  if (!callFrame.url) return name;
  const file = callFrame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/libs\//, 'libs/');
  return `${name} ${file}:${callFrame.lineNumber + 1}`;
}

/**
 * Sampled time (µs) of a profile, `(idle)` left out. `self`: time with the function on top of the stack;
 * `inclusive`: time with it anywhere on the stack (once per sample, so recursion is not counted twice);
 * `byOrigin`: self time by where the code lives. Each list is sorted, largest first.
 */
export function summarizeProfile(path) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map();
  const inclusive = new Map();
  const byOrigin = new Map();
  let busy = 0;
  const add = (map, key, time) => map.set(key, (map.get(key) ?? 0) + time);
  profile.samples.forEach((id, index) => {
    // timeDeltas[i] is the time since the previous sample: the time the stack of sample i stood for.
    const time = profile.timeDeltas[index] ?? 0;
    const top = nodes.get(id);
    if (top.callFrame.functionName === '(idle)') return;
    busy += time;
    add(self, frameKey(top.callFrame), time);
    add(byOrigin, originOf(top.callFrame), time);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = frameKey(nodes.get(at).callFrame);
      if (!seen.has(key)) {
        seen.add(key);
        add(inclusive, key, time);
      }
    }
  });
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]).map(([key, time]) => ({ key, time }));
  return { busy, self: sorted(self), inclusive: sorted(inclusive), byOrigin: sorted(byOrigin) };
}

/** A share of `total` as a percentage with one decimal. */
export function percent(time, total) {
  return `${((time / total) * 100).toFixed(1)} %`;
}
