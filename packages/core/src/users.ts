import type { Secret } from './secret.js';

/**
 * An account a reservation asks for. The manager fills it in; OS modules create it in `reserve`
 * and remove it in `sanitize`.
 * @public
 */
export interface ReservationUser {
  /** Login name. OS modules must reject names their OS cannot hold, never quote them into shape. */
  readonly login: string;
  /**
   * The person's name, for the account's description (GECOS on POSIX). Free text: OS modules
   * store it literally or reject characters their OS cannot hold; never interpret it.
   */
  readonly fullName?: string | undefined;
  /** Numeric user id to use (shared home directories need stable ids); the OS picks one if absent. */
  readonly uid?: number | undefined;
  /** OpenSSH public keys (one-line format) that may log in. */
  readonly sshKeys: readonly string[];
  /** A password the manager generated; absent means key-only login. */
  readonly password?: Secret | undefined;
  /** Whether the user gets administrator rights (sudo, Administrators). */
  readonly admin: boolean;
  /** Addresses or CIDR prefixes the guest firewall opens the user's login port to. */
  readonly allowFrom: readonly string[];
}

/** How one user reaches the machine once `reserve` is done. @public */
export interface UserAccess {
  /** The user's login, as in {@link ReservationUser.login}. */
  readonly login: string;
  /** How the user connects: SSH, or RDP (Windows desktops). */
  readonly protocol: 'ssh' | 'rdp';
  /** Address or host name the user connects to (the public address). */
  readonly host: string;
  /** The TCP port to connect to. */
  readonly port: number;
}
