import type pg from 'pg';

/**
 * `COPY … TO STDOUT` with plain `pg` (pg-copy-streams is not installed): a custom query object
 * (pg's `Submittable`), which the client hands the protocol messages of the statement — each
 * CopyData chunk, then ReadyForQuery, or an error. The text is sent as a simple query.
 */
class CopyOut implements pg.Submittable {
  readonly #chunks: Buffer[] = [];
  readonly #done: (error: Error | null, data?: Buffer) => void;

  constructor(
    readonly text: string,
    done: (error: Error | null, data?: Buffer) => void,
  ) {
    this.#done = done;
  }

  submit(connection: pg.Connection): void {
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    this.#chunks.push(message.chunk);
  }

  handleReadyForQuery(): void {
    this.#done(null, Buffer.concat(this.#chunks));
  }

  handleError(error: Error): void {
    this.#done(error);
  }

  handleCopyInResponse(connection: pg.Connection): void {
    (connection as unknown as { sendCopyFail(reason: string): void }).sendCopyFail(
      'only COPY … TO STDOUT is supported here',
    );
  }

  // The messages of a statement that is not a COPY TO: ignored (it ends with ReadyForQuery).
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}

/** Runs `COPY (…) TO STDOUT` (text format) on the client and returns what the server sent. */
export function copyToStdout(client: pg.Client, text: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.query(
      new CopyOut(text, (error, data) =>
        error === null ? resolve(data as Buffer) : reject(error),
      ),
    );
  });
}
