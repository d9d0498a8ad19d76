import type { ClientSettings } from './cli-settings.js';
import { CliError, EXIT } from './exit-codes.js';

/** Longest wait for an answer of the manager (streams excepted). */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * A path of the API from its segments, each percent-encoded: a name or id given on the command
 * line (`../tokens`, `a/b`) stays one segment and never reaches another route.
 */
export function apiPath(...segments: readonly (string | number)[]): string {
  return segments.map((segment) => `/${encodeURIComponent(String(segment))}`).join('');
}

/** The HTTP API of one manager, as one user. */
export class ApiClient {
  readonly #settings: ClientSettings;

  constructor(settings: ClientSettings) {
    this.#settings = settings;
  }

  /** Where it connects, and the user's SSH settings. */
  get settings(): ClientSettings {
    return this.#settings;
  }

  get server(): string {
    return this.#settings.server;
  }

  /** Sends a request to `/api/v1<path>` and returns the answer's JSON (undefined for 204). */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetch(`/api/v1${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** Sends a request with the token; a refusal becomes a {@link CliError} with its exit code. */
  async fetch(path: string, init: RequestInit): Promise<Response> {
    const token = this.#settings.token;
    if (token === undefined) {
      throw new CliError(EXIT.auth, 'no token: give --token, VLAB_TOKEN or a configuration file', {
        hint: "An admin's first token is in the file vlab serve printed at the first start.",
      });
    }
    const headers: Record<string, string> = {
      ...(init.headers as Record<string, string> | undefined),
      authorization: `Bearer ${token}`,
    };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.#settings.server}${path}`, { ...init, headers });
    } catch (error) {
      const reason = (error as { cause?: { code?: string; message?: string } }).cause;
      const cause = reason?.code ?? reason?.message ?? (error as Error).message;
      throw new CliError(
        EXIT.unreachable,
        `cannot reach the manager at ${this.#settings.server} (${cause})`,
        {
          hint: 'Check that vlab serve runs there, or give --server.',
        },
      );
    }
    if (response.ok) return response;
    const answer = (await response.json().catch(() => undefined)) as
      | { error?: { code?: string; message?: string; hint?: string } }
      | undefined;
    const exitCode =
      response.status === 401 || response.status === 403
        ? EXIT.auth
        : response.status >= 500
          ? EXIT.unreachable
          : EXIT.refused;
    throw new CliError(
      exitCode,
      answer?.error?.message ?? `the manager answered ${response.status}`,
      {
        code: answer?.error?.code,
        hint: answer?.error?.hint,
      },
    );
  }
}
