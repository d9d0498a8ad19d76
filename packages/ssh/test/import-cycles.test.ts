import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Each src file's imports of other src files, `import type` and re-exports included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(SRC).filter((name) => name.endsWith('.ts'))) {
    const text = readFileSync(`${SRC}${file}`, 'utf8');
    const targets = [...text.matchAll(/\bfrom\s+'\.\/([^']+)\.js'/g)].map((m) => `${m[1]}.ts`);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle, as `a.ts → b.ts → a.ts`. */
function cycles(graph: Map<string, string[]>): string[] {
  const found = new Set<string>();
  const walk = (file: string, path: string[]): void => {
    const at = path.indexOf(file);
    if (at !== -1) {
      const loop = path.slice(at);
      const start = loop.indexOf([...loop].sort()[0] as string);
      const rotated = [...loop.slice(start), ...loop.slice(0, start)];
      found.add([...rotated, rotated[0]].join(' → '));
      return;
    }
    for (const next of graph.get(file) ?? []) walk(next, [...path, file]);
  };
  for (const file of graph.keys()) walk(file, []);
  return [...found].sort();
}

describe('the layering of src', () => {
  it('has no import cycle (type imports count)', () => {
    expect(cycles(importGraph())).toEqual([]);
  });

  it('keeps the pool below exec and processes, and the client above them', () => {
    const graph = importGraph();
    const below = (file: string, other: string): boolean =>
      !(graph.get(file) ?? []).includes(other);
    for (const upper of ['client.ts', 'exec.ts', 'remote-process.ts']) {
      expect(below('pool.ts', upper), `pool.ts imports ${upper}`).toBe(true);
    }
    for (const lower of ['exec.ts', 'remote-process.ts']) {
      expect(below(lower, 'client.ts'), `${lower} imports client.ts`).toBe(true);
    }
  });
});
