import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How a README example ended. */
export interface ExampleRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The first ```ts block under the heading `## <heading…>` of the package's README.md. */
export async function readmeExample(packageDir: string, heading = 'Example'): Promise<string> {
  const readme = await readFile(join(packageDir, 'README.md'), 'utf8');
  const example = new RegExp(`## ${heading}[^\\n]*\\n+\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(
    readme,
  )?.[1];
  if (example === undefined)
    throw new Error(`${packageDir}/README.md has no \`\`\`ts block under "## ${heading}"`);
  return example;
}

/**
 * Runs a README example as it stands under `node --import tsx`, with only the import of
 * `packageName` pointed at the package's `src/index.ts`. It runs from a temporary directory
 * inside the package, so its other imports resolve as the package's own.
 */
export async function runReadmeExample(options: {
  readonly packageDir: string;
  readonly packageName: string;
  readonly example: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}): Promise<ExampleRun> {
  const { packageDir } = options;
  const dir = await mkdtemp(join(packageDir, '.readme-example-'));
  try {
    const file = join(dir, 'example.mts');
    await writeFile(
      file,
      options.example.replace(
        `from '${options.packageName}'`,
        `from ${JSON.stringify(join(packageDir, 'src', 'index.ts'))}`,
      ),
    );
    return await new Promise<ExampleRun>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', file],
        {
          cwd: packageDir,
          timeout: options.timeoutMs ?? 60_000,
          env: { ...process.env, ...options.env },
        },
        (error, stdout, stderr) =>
          resolve({
            code: typeof error?.code === 'number' ? error.code : error ? 1 : 0,
            stdout,
            stderr,
          }),
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
