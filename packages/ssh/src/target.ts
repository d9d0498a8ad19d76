import { createHmac, randomBytes } from 'node:crypto';
import type { Secret } from '@vlab/core';
import { hostKeyId } from './host-key.js';

/**
 * How to log in. A private key (ed25519, RSA, ECDSA; OpenSSH or PEM format) or a password are
 * {@link @vlab/core#Secret}s: they reach ssh2 and nothing else, never a log line or an error.
 * @public
 */
export type SshAuth =
  | {
      readonly kind: 'key';
      /** The private key file's content. */
      readonly privateKey: Secret;
      /** The passphrase of an encrypted private key. */
      readonly passphrase?: Secret | undefined;
    }
  | { readonly kind: 'password'; readonly password: Secret }
  | {
      readonly kind: 'agent';
      /** The agent's socket. Default: `$SSH_AUTH_SOCK`. */
      readonly socket?: string | undefined;
    };

/** The remote command language of an {@link SshTarget}. @public */
export type RemoteShell = 'posix' | 'powershell';

/** One SSH login: where, as whom, how. The pool keeps connections per distinct target. @public */
export interface SshTarget {
  /** Host name or address. */
  readonly host: string;
  /** Default: 22. */
  readonly port?: number | undefined;
  /** The login user. */
  readonly user: string;
  /** How to log in. */
  readonly auth: SshAuth;
  /**
   * The id the host's pins are stored under in the {@link HostKeyStore}. Default:
   * {@link hostKeyId}(host, port). Give the computer's name when addresses are reused.
   */
  readonly hostKeyAlias?: string | undefined;
  /** The computer's name, for errors and progress. Default: `host`. */
  readonly computer?: string | undefined;
  /**
   * The remote command language: `posix` (default) quotes argv for the POSIX shell sshd starts;
   * `powershell` (Windows' OpenSSH) runs `argv[0]` as PowerShell code with the rest as verbatim
   * literals, sent as `powershell.exe -EncodedCommand` (see {@link powerShellScript}).
   */
  readonly shell?: RemoteShell | undefined;
  /** A jump host to reach `host` through (a management network behind one gateway). */
  readonly via?: SshTarget | undefined;
}

const SALT = randomBytes(16);

function secretId(value: string): string {
  // Secrets become pool keys only as a keyed hash with a per-process random key.
  return createHmac('sha256', SALT).update(value).digest('base64url').slice(0, 22);
}

/**
 * The pool key of a target: two targets share connections only when everything that decides
 * the login is the same — user, host, port, the pin id their host keys are checked against, the
 * jump host, and every credential (private key and passphrase, password, agent socket). Secrets
 * enter it only hashed.
 * @internal
 */
export function targetKey(target: SshTarget): string {
  const auth = target.auth;
  const credentials =
    auth.kind === 'key'
      ? [
          'key',
          secretId(auth.privateKey.reveal()),
          auth.passphrase === undefined ? null : secretId(auth.passphrase.reveal()),
        ]
      : auth.kind === 'password'
        ? ['password', secretId(auth.password.reveal())]
        : ['agent', auth.socket ?? process.env['SSH_AUTH_SOCK'] ?? ''];
  // JSON: no choice of user or host name can make two logins read the same.
  return JSON.stringify([
    target.user,
    target.host,
    target.port ?? 22,
    credentials,
    pinId(target),
    target.via === undefined ? null : targetKey(target.via),
  ]);
}

/** The host key store id of a target. @internal */
export function pinId(target: SshTarget): string {
  return target.hostKeyAlias ?? hostKeyId(target.host, target.port ?? 22);
}

/** The computer name of a target. @internal */
export function computerOf(target: SshTarget): string {
  return target.computer ?? target.host;
}

/** `user@host:port`, for messages. @internal */
export function describeTarget(target: SshTarget): string {
  return `${target.user}@${target.host}:${target.port ?? 22}`;
}
