import type { Guest } from './guest.js';

/** What the module learns about a guest in one round trip before it changes anything. */
export interface GuestFacts {
  /** `ImageState` of Windows Setup (`IMAGE_STATE_COMPLETE` once OOBE finished); undefined when unset. */
  readonly imageState: string | undefined;
  /** The computer name in use (hostname.exe). */
  readonly activeName: string;
  /** The computer name the next boot takes (a pending Rename-Computer). */
  readonly pendingName: string | undefined;
  /** Identifies this boot (Win32_OperatingSystem.LastBootUpTime). */
  readonly bootTime: string;
  /** The address the management's SSH connection comes from (`SSH_CONNECTION`), if known. */
  readonly managementSource: string | undefined;
  /** `amd64` or `arm64`: the answer file's processorArchitecture. */
  readonly architecture: 'amd64' | 'arm64';
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Reads the facts (script `facts`). */
export async function readFacts(guest: Guest): Promise<GuestFacts> {
  const raw = ((await guest.json('facts')) ?? {}) as {
    readonly imageState?: unknown;
    readonly activeName?: unknown;
    readonly pendingName?: unknown;
    readonly bootTime?: unknown;
    readonly connection?: unknown;
    readonly architecture?: unknown;
  };
  return {
    imageState: text(raw.imageState),
    activeName: text(raw.activeName) ?? '',
    pendingName: text(raw.pendingName),
    bootTime: JSON.stringify(raw.bootTime ?? null),
    managementSource: text(raw.connection)?.split(' ')[0],
    architecture: text(raw.architecture)?.toUpperCase() === 'ARM64' ? 'arm64' : 'amd64',
  };
}
