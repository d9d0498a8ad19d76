import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Secret } from '@vlab/core';
import { type Kysely, sql } from 'kysely';
import type { LabDatabase, UserRole } from '../database/schema.js';

/** Longest token name, in characters. @public */
export const MAX_TOKEN_NAME = 100;

/** An API token as listed: never the token itself. @public */
export interface ApiToken {
  /** The token's id (a UUID): what `revoke` takes. */
  readonly id: string;
  /** The user the token acts for. */
  readonly login: string;
  /** What it is for. */
  readonly name: string;
  /** When it was issued. */
  readonly createdAt: Date;
  /** When it last authenticated a request, to the minute. */
  readonly lastUsedAt: Date | undefined;
}

/** A token just issued: the only time the token itself is known. @public */
export interface IssuedApiToken extends ApiToken {
  /** The bearer token (`vlab_` and 43 base64url characters). */
  readonly token: Secret;
}

/** Whom a token authenticates. @public */
export interface TokenHolder {
  /** The token's id. */
  readonly tokenId: string;
  /** Its user's login. */
  readonly login: string;
  /** Its user's role. */
  readonly role: UserRole;
}

/**
 * The HTTP API's bearer tokens, each acting for one registered user with that user's role. Only a
 * token's SHA-256 hash is stored: a token is shown once, when it is issued.
 * @public
 */
export interface ApiTokens {
  /** Issues a token for `login` (a registered user), named `name` (1 to 100 characters). */
  issue(login: string, name: string): Promise<IssuedApiToken>;
  /**
   * Issues the lab's first token, for `login`, unless the lab has a token already (then
   * `undefined`); managers starting together issue one between them.
   */
  issueFirst(login: string, name: string): Promise<IssuedApiToken | undefined>;
  /** Whom `token` authenticates, or `undefined` (malformed, unknown or revoked). */
  authenticate(token: string): Promise<TokenHolder | undefined>;
  /** The tokens of `login`, or every token when `login` is `undefined`; oldest first. */
  list(login: string | undefined): Promise<ApiToken[]>;
  /** Revokes a token (only one of `login`'s, when given); false when there was none. */
  revoke(id: string, login: string | undefined): Promise<boolean>;
}

const TOKEN = /^vlab_[A-Za-z0-9_-]{43}$/;
/** Serialises the first-token check of managers starting together (any constant key). */
const FIRST_TOKEN_LOCK = 0x766c6162;

function hashOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * {@link ApiTokens} in the database. A token is 256 random bits, so a plain SHA-256 of it is
 * enough to store (no salt or slow hash: there is nothing to guess from it); lookups go by it.
 */
export class ApiTokenStore implements ApiTokens {
  readonly #db: Kysely<LabDatabase>;

  constructor(db: Kysely<LabDatabase>) {
    this.#db = db;
  }

  async issue(login: string, name: string): Promise<IssuedApiToken> {
    return issueWith(this.#db, login, name);
  }

  async issueFirst(login: string, name: string): Promise<IssuedApiToken | undefined> {
    return this.#db.transaction().execute(async (tx) => {
      await sql`SELECT pg_advisory_xact_lock(${FIRST_TOKEN_LOCK})`.execute(tx);
      const any = await tx.selectFrom('api_tokens').select('id').limit(1).executeTakeFirst();
      return any === undefined ? issueWith(tx, login, name) : undefined;
    });
  }

  async authenticate(token: string): Promise<TokenHolder | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const row = await this.#db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.login', 'api_tokens.login')
      .select(['api_tokens.id', 'api_tokens.login', 'users.role', 'api_tokens.last_used_at'])
      .where('api_tokens.hash', '=', hashOf(token))
      .executeTakeFirst();
    if (row === undefined) return undefined;
    if (row.last_used_at === null || Date.now() - row.last_used_at.getTime() > 60_000) {
      await this.#db
        .updateTable('api_tokens')
        .set({ last_used_at: sql<Date>`now()` })
        .where('id', '=', row.id)
        .execute();
    }
    return { tokenId: row.id, login: row.login, role: row.role };
  }

  async list(login: string | undefined): Promise<ApiToken[]> {
    let query = this.#db
      .selectFrom('api_tokens')
      .select(['id', 'login', 'name', 'created_at', 'last_used_at'])
      .orderBy('created_at')
      .orderBy('id');
    if (login !== undefined) query = query.where('login', '=', login);
    return (await query.execute()).map(toToken);
  }

  async revoke(id: string, login: string | undefined): Promise<boolean> {
    let query = this.#db.deleteFrom('api_tokens').where('id', '=', id);
    if (login !== undefined) query = query.where('login', '=', login);
    const result = await query.executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

async function issueWith(
  db: Kysely<LabDatabase>,
  login: string,
  name: string,
): Promise<IssuedApiToken> {
  const token = `vlab_${randomBytes(32).toString('base64url')}`;
  const row = await db
    .insertInto('api_tokens')
    .values({ id: randomUUID(), login, name, hash: hashOf(token) })
    .returning(['id', 'login', 'name', 'created_at', 'last_used_at'])
    .executeTakeFirstOrThrow();
  return { ...toToken(row), token: new Secret(token, 'API token') };
}

function toToken(row: {
  id: string;
  login: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}): ApiToken {
  return {
    id: row.id,
    login: row.login,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at ?? undefined,
  };
}
