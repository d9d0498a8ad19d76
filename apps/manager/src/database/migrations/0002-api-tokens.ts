import { type Kysely, type Migration, sql } from 'kysely';

/* Frozen once released, like 0001: a later change to tokens is a new migration. */
const STATEMENTS: readonly string[] = [
  `CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    login text NOT NULL REFERENCES users (login) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    hash bytea NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
  )`,
  'CREATE INDEX api_tokens_login_idx ON api_tokens (login)',
];

/** The HTTP API's bearer tokens, stored as SHA-256 hashes. */
export const apiTokens: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
  },
};
