import {
  type EndState,
  isVlabError,
  type RunResult,
  redact,
  type Secret,
  type VlabError,
} from '@vlab/core';
import { windowsError } from './errors.js';
import { type Guest, stderrOf } from './guest.js';
import { GUEST_PATHS } from './paths.js';

/** sysprep's last switch for each end state. */
export const SYSPREP_END_SWITCH: Readonly<Record<EndState, string>> = {
  off: '/shutdown',
  reboot: '/reboot',
  on: '/quit',
};

/** `ImageState` once sysprep generalized the machine for OOBE, before it boots again. */
export const GENERALIZED = 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE';
/** `ImageState` once specialize and OOBE finished. */
export const SETUP_COMPLETE = 'IMAGE_STATE_COMPLETE';

/** What sysprep's logs say, cut to the relevant lines. */
export interface SysprepLogLines {
  /** The end of setuperr.log (every line there is an error or a warning). */
  readonly setuperr: readonly string[];
  /** The lines of setupact.log's end that report an error or a failure. */
  readonly setupact: readonly string[];
}

const RELEVANT = /error|fail|0x8[0-9a-f]{7}|0xc[0-9a-f]{7}/i;

/** Picks the relevant lines of the logs' ends (pure). */
export function relevantLogLines(err: readonly string[], act: readonly string[]): SysprepLogLines {
  const clean = (lines: readonly string[]) =>
    lines.map((line) => line.trimEnd()).filter((line) => line !== '');
  return {
    setuperr: clean(err).slice(-30),
    setupact: clean(act)
      .filter((line) => RELEVANT.test(line))
      .slice(-30),
  };
}

/** Reads the Panther logs; empty lists when they cannot be read (the machine went away). */
export async function readSysprepLogs(guest: Guest): Promise<SysprepLogLines> {
  try {
    const raw = ((await guest.json('sysprepLogs', [], { timeoutMs: 30_000 })) ?? {}) as {
      err?: unknown;
      act?: unknown;
    };
    const lines = (value: unknown): string[] =>
      Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];
    return relevantLogLines(lines(raw.err), lines(raw.act));
  } catch (error) {
    if (isVlabError(error, 'VLAB_ERR_OP_CANCELLED') || isVlabError(error, 'VLAB_ERR_OP_TIMEOUT'))
      throw error;
    return { setuperr: [], setupact: [] };
  }
}

/**
 * `VLAB_ERR_WINDOWS_SYSPREP_FAILED` with the logs' relevant lines (first setuperr.log line in the
 * message, all in `details`), every secret in play redacted.
 */
export async function sysprepFailed(
  guest: Guest,
  why: string,
  secrets: readonly Secret[],
  options: { result?: RunResult; cause?: unknown } = {},
): Promise<VlabError> {
  const logs = await readSysprepLogs(guest);
  const clean = (lines: readonly string[]) => lines.map((line) => redact(line, secrets));
  const setuperr = clean(logs.setuperr);
  const setupact = clean(logs.setupact);
  const first = setuperr.find((line) => /error/i.test(line)) ?? setuperr[0] ?? setupact[0];
  return windowsError(
    'VLAB_ERR_WINDOWS_SYSPREP_FAILED',
    `sysprep ${why}${first === undefined ? '' : `: ${first}`}`,
    {
      computer: guest.computer,
      cause: options.cause,
      details: {
        logs: GUEST_PATHS.sysprepPanther,
        setuperr,
        setupact,
        ...(options.result === undefined
          ? {}
          : {
              exitCode: options.result.code,
              stderrTail: redact(stderrOf(options.result), secrets).slice(-2048),
            }),
      },
    },
  );
}
